/**
 * The tfjs engine: a stage's variables as TensorFlow.js variables and its step run op by op (training-step.ts), on
 * the backend asked for (tfjs-node-gpu, tfjs-node, pure JS). The training loop itself is engine-neutral
 * (../trainer.ts); `trainInProcess` is re-exported from there.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { LoadedBackend } from '../backend';
import { makeOptimizer } from '../optimizers';
import type { StageGraph } from '../stage-setup';
import type { StageRunRequest } from '../types';
import type { StepEngine } from './engine';
import { nativeKernels } from './native-kernels';
import { trainingStep, type StepContext } from './training-step';

export { trainInProcess, type TrainerHooks } from '../trainer';

type Variable = tfTypes.Variable;

let variableGeneration = 0;

/** tfjs variable names are process-global; ours are TF1 names, made unique per stage run and mapped back. */
export function createVariables(tf: LoadedBackend['tf'], graph: Pick<StageGraph, 'variables' | 'trained'>, values: Map<string, Float32Array>) {
  const generation = ++variableGeneration;
  const vars = new Map<string, Variable>();
  const tfNameToName = new Map<string, string>();
  const trained = new Set(graph.trained.map((v) => v.name));
  for (const spec of graph.variables) {
    const value = values.get(spec.name)!;
    const tfName = `${spec.name}#${generation}`;
    vars.set(spec.name, tf.variable(tf.tensor(value, spec.shape, 'float32'), trained.has(spec.name), tfName));
    tfNameToName.set(tfName, spec.name);
  }
  return { vars, tfNameToName };
}

/** The tfjs engine for a stage, its variables set to `values`. */
export function createTfjsEngine(req: StageRunRequest, graph: StageGraph, values: Map<string, Float32Array>, backend: LoadedBackend): StepEngine {
  const tf = backend.tf;
  const { vars, tfNameToName } = createVariables(tf, graph, values);
  const ctx: StepContext = {
    tf, graph, vars, tfNameToName, optimizer: makeOptimizer(tf, vars, req.settings), settings: req.settings,
    seed: req.seed, kernels: nativeKernels(tf),
  };
  return {
    engine: 'tfjs',
    backend: backend.name,
    description: `tfjs on backend ${backend.name}`,
    step: (batch, iteration) => trainingStep(ctx, batch, iteration),
    values: () => new Map([...vars].map(([name, v]) => [name, new Float32Array(v.dataSync())])),
    dispose: () => {
      for (const v of vars.values()) v.dispose();
    },
  };
}
