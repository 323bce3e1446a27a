/**
 * Mean loss of a checkpoint on held-out batches, in inference mode (moving batch-norm statistics): how fine-tuning
 * results are compared. Held-out batches are the data source's batches at iterations far beyond any training run.
 */
import { makeDataSource } from '../../data';
import type { DataConfig, LossType } from '../../pipeline/plan';
import type { TrainingProcessSettings } from '../../settings';
import type { StoragesOption } from '../../storage';
import { withInferenceNetwork, type InferenceNetworkRequest } from './inference-network';
import { segmentationLoss } from './losses';
import { cropLabels } from './training-step';

export const HELD_OUT_FIRST_ITERATION = 1_000_000_000;

export interface EvaluateRequest extends InferenceNetworkRequest {
  data: DataConfig;
  seed: number;
  loss: LossType;
  batches: number;
  batchSize: number;
}

/** `training`: thaw's settings (the backend override and the data cache). */
export async function evaluateCheckpoint(
  req: EvaluateRequest, training: Pick<TrainingProcessSettings, 'backend' | 'dataCacheMb'>, options: StoragesOption = {},
): Promise<number> {
  return withInferenceNetwork(req, training, options, ({ tf, net, params, forward }) => {
    const data = makeDataSource(req.data, { seed: req.seed, baseDir: req.baseDir ?? process.cwd(), dataCacheMb: training.dataCacheMb });
    let total = 0;
    for (let b = 0; b < req.batches; b++) {
      const batch = data.batch(HELD_OUT_FIRST_ITERATION + b, req.batchSize);
      total += tf.tidy(() => {
        const outSize = net.outputSize(params, batch.shape.slice(1, -1));
        const labels = cropLabels(batch.labels, batch.shape.slice(0, -1), outSize);
        const x = tf.tensor(batch.images, batch.shape, 'float32');
        const y = tf.tensor(labels, [batch.shape[0], ...outSize], 'int32');
        return segmentationLoss(tf, req.loss, forward(x), y).dataSync()[0];
      });
    }
    return total / req.batches;
  });
}
