/**
 * Mean loss of a checkpoint on held-out batches, in inference mode (moving batch-norm statistics): how fine-tuning
 * results are compared. Held-out batches are the data source's batches at iterations far beyond any training run.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { CheckpointReader } from '../../checkpoint';
import { makeDataSource } from '../../data';
import type { BackendName, DataConfig, LossType, NetworkConfig } from '../../pipeline/plan';
import type { TrainingProcessSettings } from '../../settings';
import type { StoragesOption } from '../../storage';
import { loadBackend, requestedBackend } from '../backend';
import { getNetwork } from '../networks';
import { segmentationLoss } from './losses';
import { TfjsLayerOps } from './tfjs-ops';
import { cropLabels } from './training-step';

export const HELD_OUT_FIRST_ITERATION = 1_000_000_000;

export interface EvaluateRequest {
  checkpoint: string;
  network: NetworkConfig;
  data: DataConfig;
  seed: number;
  loss: LossType;
  batches: number;
  batchSize: number;
  backend?: BackendName;
  baseDir?: string;
}

/** `training`: thaw's settings (the backend override and the data cache). */
export async function evaluateCheckpoint(
  req: EvaluateRequest, training: Pick<TrainingProcessSettings, 'backend' | 'dataCacheMb'>, options: StoragesOption = {},
): Promise<number> {
  const { tf } = await loadBackend(requestedBackend(req.backend ?? 'auto', training.backend));
  const net = getNetwork(req.network.name, { baseDir: req.baseDir });
  const params = net.resolveParams(req.network.params ?? {});
  const data = makeDataSource(req.data, { seed: req.seed, baseDir: req.baseDir ?? process.cwd(), dataCacheMb: training.dataCacheMb });
  const reader = await CheckpointReader.open(req.checkpoint, options);
  const vars = new Map<string, tfTypes.Variable>();
  try {
    for (const spec of net.variables(params)) {
      const t = await reader.read(spec.name);
      vars.set(spec.name, tf.variable(tf.tensor(t.data as Float32Array, spec.shape, 'float32'), false));
    }
    const ops = new TfjsLayerOps(tf, params.dims, vars, { training: false, frozenLayers: new Set(), frozenBatchNorm: 'moving' });
    let total = 0;
    for (let b = 0; b < req.batches; b++) {
      const batch = data.batch(HELD_OUT_FIRST_ITERATION + b, req.batchSize);
      total += tf.tidy(() => {
        const outSize = net.outputSize(params, batch.shape.slice(1, -1));
        const labels = cropLabels(batch.labels, batch.shape.slice(0, -1), outSize);
        const x = tf.tensor(batch.images, batch.shape, 'float32');
        const y = tf.tensor(labels, [batch.shape[0], ...outSize], 'int32');
        return segmentationLoss(tf, req.loss, net.forward(ops, x, params), y).dataSync()[0];
      });
    }
    return total / req.batches;
  } finally {
    await reader.close();
    for (const v of vars.values()) v.dispose();
  }
}
