/**
 * A network with a checkpoint's values, in inference mode (batch norms with their moving statistics): what
 * `thaw infer` and the held-out evaluation of a checkpoint run. The variables live as long as the callback.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { CheckpointReader } from '../../checkpoint';
import type { BackendName, NetworkConfig } from '../../pipeline/plan';
import type { TrainingProcessSettings } from '../../settings';
import type { StoragesOption } from '../../storage';
import { loadBackend, requestedBackend, type Tf } from '../backend';
import { getNetwork, type CommonParams, type NetworkDefinition } from '../networks';
import { TfjsLayerOps } from './tfjs-ops';

export interface InferenceNetworkRequest {
  checkpoint: string;
  network: NetworkConfig;
  backend?: BackendName;
  /** Folder a plugin network's path is resolved from. */
  baseDir?: string;
}

export interface InferenceNetwork {
  tf: Tf;
  net: NetworkDefinition;
  params: CommonParams & Record<string, unknown>;
  /** Logits [batch, ...net.outputSize(spatial), num_classes] of an input [batch, ...spatial, in_channels]. */
  forward(x: tfTypes.Tensor): tfTypes.Tensor;
}

/** Loads the backend and the checkpoint's values of the network's variables, runs `use`, then frees the variables. */
export async function withInferenceNetwork<R>(
  req: InferenceNetworkRequest, training: Pick<TrainingProcessSettings, 'backend'>, options: StoragesOption,
  use: (network: InferenceNetwork) => Promise<R> | R,
): Promise<R> {
  const { tf } = await loadBackend(requestedBackend(req.backend ?? 'auto', training.backend));
  const net = getNetwork(req.network.name, { baseDir: req.baseDir });
  const params = net.resolveParams(req.network.params ?? {});
  const reader = await CheckpointReader.open(req.checkpoint, options);
  const vars = new Map<string, tfTypes.Variable>();
  try {
    for (const spec of net.variables(params)) {
      const t = await reader.read(spec.name);
      vars.set(spec.name, tf.variable(tf.tensor(t.data as Float32Array, spec.shape, 'float32'), false));
    }
    const ops = new TfjsLayerOps(tf, params.dims, vars, { training: false, frozenLayers: new Set(), frozenBatchNorm: 'moving' });
    return await use({ tf, net, params, forward: (x) => net.forward(ops, x, params) });
  } finally {
    await reader.close();
    for (const v of vars.values()) v.dispose();
  }
}
