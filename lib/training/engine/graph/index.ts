/**
 * The graph engine as a StepEngine: libtensorflow's C API loaded (tf-c.ts), the stage's step built as one graph
 * (graph-step.ts) and started from the stage's starting values. Building the graph is where an op the engine cannot
 * differentiate is found, before any training.
 */
import type { StageGraph } from '../../stage-setup';
import type { StageRunRequest } from '../../types';
import type { GraphOptions, StepEngine } from '../engine';
import { GraphStep } from './graph-step';
import { loadTfC } from './tf-c';

export { UndifferentiableOpError } from './graph';

/** Why the graph engine does not load here (null when it does); `tfPackageDir`: settings.training.tfPackageDir. */
export function graphEngineUnavailable(tfPackageDir?: string): string | null {
  try {
    loadTfC(tfPackageDir);
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

export function createGraphEngine(req: StageRunRequest, graph: StageGraph, values: Map<string, Float32Array>, batchShape: number[],
  options: GraphOptions, tfPackageDir?: string): StepEngine {
  const c = loadTfC(tfPackageDir);
  const step = new GraphStep(c, graph, { ...options, batchShape, seed: req.seed, settings: req.settings });
  try {
    step.start(values);
  } catch (err) {
    step.dispose();
    throw err;
  }
  const gpu = step.stats.devices.includes('GPU');
  const threads = `threads intra ${options.intraOpThreads || 'default'}, inter ${options.interOpThreads || 'default'}`;
  return {
    engine: 'graph',
    backend: gpu ? 'tensorflow-gpu' : 'tensorflow',
    description: `graph (libtensorflow ${c.version} C API from ${c.libraryPath}; devices ${step.stats.devices.join(', ')}; ` +
      `${step.stats.ops} ops, ${step.stats.taped} differentiated; XLA ${options.xla ? 'on' : 'off'}; ${threads})`,
    step: (batch, iteration) => step.stepAsync(batch, iteration),
    values: () => step.values(),
    dispose: () => step.dispose(),
  };
}
