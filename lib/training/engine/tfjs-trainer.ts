/**
 * The training loop on TensorFlow.js: restore, train [start, end) with the stage's freeze set, checkpoint every
 * save_every_n and at the end, stop cleanly on request. Runs in the stage's child process (see run-stage.ts).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { checkpointPrefix, saveCheckpoint, type Tensor as CkptTensor } from '../../checkpoint';
import { makeDataSource } from '../../data';
import { openMetricsLog } from '../../metrics';
import { loadBackend, requestedBackend, type LoadedBackend } from '../backend';
import { makeOptimizer } from '../optimizers';
import { buildStageGraph, findResumePoint, loadStartValues, stageWriter, type StageGraph } from '../stage-setup';
import type { StageProgress, StageResult, StageRunRequest, StageSidecar } from '../types';
import { nativeKernels } from './native-kernels';
import { trainingStep, type StepContext } from './training-step';

type Variable = tfTypes.Variable;

export interface TrainerHooks {
  onProgress?: (p: StageProgress) => void;
  /** Polled between iterations: true → checkpoint at the current iteration and return stopped. */
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

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

/** What a checkpoint holds: the stage's variables and, unchanged, what its starting checkpoint carried besides. */
function snapshot(vars: Map<string, Variable>, carried: Map<string, CkptTensor>): Map<string, CkptTensor> {
  const tensors = new Map<string, CkptTensor>(carried);
  for (const [name, v] of vars) tensors.set(name, { dtype: 'float32', shape: [...v.shape], data: new Float32Array(v.dataSync()) });
  return tensors;
}

export async function trainStage(req: StageRunRequest, hooks: TrainerHooks = {}): Promise<StageResult> {
  const log = hooks.log ?? (() => {});
  const data = makeDataSource(req.data, { seed: req.seed, baseDir: req.baseDir ?? process.cwd() });
  const graph = buildStageGraph(req, data);
  const resume = await findResumePoint(req);
  const base = { stage: req.stage, startIteration: req.startIteration, endIteration: req.endIteration };

  if (resume && resume.iteration === req.endIteration) {
    log(`stage ${req.stage} already finished at iteration ${resume.iteration}; nothing to do`);
    return {
      ...base, reachedIteration: resume.iteration, finalLoss: resume.sidecar.loss, checkpoint: resume.prefix,
      backend: resume.sidecar.backend, trainSeconds: 0, stopped: false, resumedFrom: resume.iteration,
    };
  }
  if (resume) log(`stage ${req.stage}: resuming from ${resume.prefix}`);

  const backend = await loadBackend(requestedBackend(req.backend), log);
  const tf = backend.tf;
  const restoreStart = Date.now();
  const { values, carried } = await loadStartValues(req, graph, resume);
  const restoreSeconds = (Date.now() - restoreStart) / 1000;
  const { vars, tfNameToName } = createVariables(tf, graph, values);
  values.clear();
  if (carried.size > 0) log(`stage ${req.stage}: carrying ${carried.size} variable(s) of the starting checkpoint that it does not train or use`);
  const ctx: StepContext = {
    tf, graph, vars, tfNameToName, optimizer: makeOptimizer(tf, vars, req.settings), settings: req.settings,
    seed: req.seed, kernels: nativeKernels(tf),
  };
  const batchSize = req.settings.batch_size;

  let iteration = resume?.iteration ?? req.startIteration;
  let lastLoss: number | null = resume?.sidecar.loss ?? null;
  let lastCheckpoint = resume?.prefix ?? '';
  let saveSeconds = 0;

  const save = async (): Promise<string> => {
    const t0 = Date.now();
    metrics.flush();
    const sidecar: StageSidecar = {
      stage: req.stage, iteration, frozen: graph.frozen, trained: graph.trained.map((v) => v.name),
      settings: req.settings, seed: req.seed, pipelineHash: req.pipelineHash, network: req.network,
      backend: backend.name, loss: lastLoss,
    };
    const trainable = new Set(graph.variables.filter((v) => v.trainable).map((v) => v.name));
    lastCheckpoint = await saveCheckpoint(req.modelDir, iteration, snapshot(vars, carried), {
      sidecar, maxCheckpoints: req.settings.max_checkpoints, keep: req.keepCheckpoints ?? [],
      meta: { trainable: (v) => trainable.has(v.name) }, writer: stageWriter(req),
    });
    saveSeconds += (Date.now() - t0) / 1000;
    return lastCheckpoint;
  };

  let stopped = false;
  const t0 = Date.now();
  // Metrics are numbered by the batch a step trained on: a checkpoint at N has logged < N, so resume from N drops >= N.
  const metrics = openMetricsLog(req.modelDir, req.stage, iteration);
  try {
    while (iteration < req.endIteration) {
      if (hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
      lastLoss = trainingStep(ctx, data.batch(iteration, batchSize), iteration);
      const elapsed = (Date.now() - t0) / 1000;
      const done = iteration + 1 - (resume?.iteration ?? req.startIteration);
      const itPerSec = elapsed > 0 ? done / elapsed : 0;
      metrics.log(iteration, lastLoss, itPerSec);
      iteration++;
      const every = req.settings.save_every_n;
      const checkpoint = (every > 0 && iteration % every === 0) || iteration === req.endIteration ? await save() : undefined;
      hooks.onProgress?.({ stage: req.stage, iteration, loss: lastLoss, itPerSec, checkpoint });
      await new Promise((resolve) => setImmediate(resolve)); // let stop requests (IPC, signals) in
    }
    // A stop between checkpoints saves where it is. A stop before this run's first step saves nothing: the next
    // attempt starts as this one did, and the checkpoint at the start iteration is the one restored from (a parent's,
    // NiftyNet's), which is not this stage's to overwrite.
    const stepped = iteration > (resume?.iteration ?? req.startIteration);
    if (stepped && lastCheckpoint !== checkpointPrefix(req.modelDir, iteration)) await save();
    if (stopped) log(`stage ${req.stage}: stopped at iteration ${iteration}, checkpoint ${lastCheckpoint}`);
  } finally {
    metrics.close();
    for (const v of vars.values()) v.dispose();
  }
  return {
    ...base, reachedIteration: iteration, finalLoss: lastLoss, checkpoint: lastCheckpoint, backend: backend.name,
    trainSeconds: (Date.now() - t0) / 1000, stopped, resumedFrom: resume?.iteration ?? null, restoreSeconds, saveSeconds,
  };
}
