/**
 * The training loop, engine-neutral: restore, choose the engine (engine/engine.ts), train [start, end) with the
 * stage's freeze set, checkpoint every save_every_n and at the end, stop cleanly on request. Runs in the stage's
 * child process (see run-stage.ts). The engine that ran is logged and recorded in every checkpoint's sidecar.
 */
import { checkpointPrefix, saveCheckpoint, type Tensor as CkptTensor } from '../checkpoint';
import { makeDataSource, type DataSource } from '../data';
import { openMetricsLog } from '../metrics';
import type { ThawSettings, TrainingProcessSettings } from '../settings';
import { Storages } from '../storage';
import { loadBackend, requestedBackend } from './backend';
import { graphOptions, requestedEngine, type StepEngine } from './engine/engine';
import { createGraphEngine, graphEngineUnavailable, UndifferentiableOpError } from './engine/graph';
import { createTfjsEngine } from './engine/tfjs-trainer';
import { EngineUnavailableError, UndifferentiableNetworkError } from './errors';
import { buildStageGraph, findResumePoint, loadStartValues, stageWriter, type StageGraph } from './stage-setup';
import type { StageProgress, StageResult, StageRunRequest, StageSidecar } from './types';

export interface TrainerHooks {
  onProgress?: (p: StageProgress) => void;
  /** Polled between iterations: true → checkpoint at the current iteration and return stopped. */
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

/** What a checkpoint holds: the stage's variables and, unchanged, what its starting checkpoint carried besides. */
function snapshot(graph: StageGraph, values: Map<string, Float32Array>, carried: Map<string, CkptTensor>): Map<string, CkptTensor> {
  const tensors = new Map<string, CkptTensor>(carried);
  for (const spec of graph.variables) tensors.set(spec.name, { dtype: 'float32', shape: [...spec.shape], data: values.get(spec.name)! });
  return tensors;
}

/**
 * The stage's engine: graph when asked for or (auto) when libtensorflow's C API loads, the backend asked for is a
 * native one and the network's ops can all be differentiated; otherwise tfjs on its backend, with the reason logged.
 */
async function openEngine(req: StageRunRequest, graph: StageGraph, data: DataSource, values: Map<string, Float32Array>,
  training: TrainingProcessSettings, log: (line: string) => void): Promise<StepEngine> {
  const want = requestedEngine(req.settings.engine, training.engine);
  const backendRequest = requestedBackend(req.backend, training.backend);
  if (want !== 'tfjs') {
    let reason = backendRequest === 'cpu' ? 'backend cpu (pure-JS TensorFlow.js) was asked for' : graphEngineUnavailable(training.tfPackageDir);
    if (!reason) {
      try {
        const batchShape = [req.settings.batch_size, ...data.spatialSize, data.channels];
        const engine = createGraphEngine(req, graph, values, batchShape, graphOptions(req.settings.xla, training), training.tfPackageDir);
        if (backendRequest !== 'tensorflow-gpu' || engine.backend === 'tensorflow-gpu') {
          log(`training engine: ${engine.description}${want === 'auto' ? ' [auto]' : ''}`);
          return engine;
        }
        engine.dispose();
        reason = 'backend tensorflow-gpu was asked for but the libtensorflow the graph engine loads sees no GPU';
      } catch (err) {
        if (!(err instanceof UndifferentiableOpError)) throw err;
        if (want === 'graph') {
          throw new UndifferentiableNetworkError(`stage ${req.stage}: ${err.message}; nothing was trained`, {
            field: 'engine', fix: 'train this network with engine: tfjs (or THAW_ENGINE=tfjs), or engine: auto to fall back',
          });
        }
        reason = err.message;
      }
    }
    if (want === 'graph') {
      throw new EngineUnavailableError(`stage ${req.stage}: training engine graph is not available: ${reason}`, {
        field: 'engine', fix: 'run `npx thaw setup` (or point THAW_TF_PACKAGE_DIR at a tensorflow wheel\'s folder); or use engine: auto / tfjs',
      });
    }
    log(`training engine: tfjs [auto] (graph engine not used: ${reason})`);
  }
  const backend = await loadBackend(backendRequest, log);
  const engine = createTfjsEngine(req, graph, values, backend);
  if (want === 'tfjs') log(`training engine: ${engine.description}`);
  return engine;
}

/**
 * Trains the stage in this process (runStage runs this in a child; the trainStage activity runs runStage), with thaw's
 * `settings` (engine and backend overrides, thread pools, data cache, storage and local runs folder).
 */
export async function trainInProcess(req: StageRunRequest, settings: ThawSettings, hooks: TrainerHooks = {}): Promise<StageResult> {
  const log = hooks.log ?? (() => {});
  const data = makeDataSource(req.data, { seed: req.seed, baseDir: req.baseDir ?? process.cwd(), dataCacheMb: settings.training.dataCacheMb });
  const graph = buildStageGraph(req, data);
  const storages = new Storages(settings.storage);
  const resume = await findResumePoint(req, { storages });
  const base = { stage: req.stage, startIteration: req.startIteration, endIteration: req.endIteration };

  if (resume && resume.iteration === req.endIteration) {
    log(`stage ${req.stage} already finished at iteration ${resume.iteration}; nothing to do`);
    return {
      ...base, reachedIteration: resume.iteration, finalLoss: resume.sidecar.loss, checkpoint: resume.prefix,
      backend: resume.sidecar.backend, engine: resume.sidecar.engine, trainSeconds: 0, stopped: false, resumedFrom: resume.iteration,
    };
  }
  if (resume) log(`stage ${req.stage}: resuming from ${resume.prefix}`);

  const restoreStart = Date.now();
  const { values, carried } = await loadStartValues(req, graph, resume, { storages });
  const restoreSeconds = (Date.now() - restoreStart) / 1000;
  const engine = await openEngine(req, graph, data, values, settings.training, log);
  values.clear();
  if (carried.size > 0) log(`stage ${req.stage}: carrying ${carried.size} variable(s) of the starting checkpoint that it does not train or use`);
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
      backend: engine.backend, engine: engine.engine, loss: lastLoss,
    };
    const trainable = new Set(graph.variables.filter((v) => v.trainable).map((v) => v.name));
    lastCheckpoint = await saveCheckpoint(req.modelDir, iteration, snapshot(graph, engine.values(), carried), {
      sidecar, maxCheckpoints: req.settings.max_checkpoints, keep: req.keepCheckpoints ?? [],
      meta: { trainable: (v) => trainable.has(v.name) }, writer: stageWriter(req), storages,
    });
    saveSeconds += (Date.now() - t0) / 1000;
    return lastCheckpoint;
  };

  let stopped = false;
  const t0 = Date.now();
  // Metrics are numbered by the batch a step trained on: a checkpoint at N has logged < N, so resume from N drops >= N.
  const metrics = openMetricsLog(req.modelDir, req.stage, iteration, settings.storage.localRunsDir);
  try {
    let batch = iteration < req.endIteration ? data.batch(iteration, batchSize) : null;
    while (iteration < req.endIteration) {
      if (hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
      const running = engine.step(batch!, iteration);
      // While an engine's step runs off the event loop (the graph engine's), the next batch is made meanwhile.
      batch = iteration + 1 < req.endIteration ? data.batch(iteration + 1, batchSize) : null;
      lastLoss = await running;
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
    engine.dispose();
  }
  return {
    ...base, reachedIteration: iteration, finalLoss: lastLoss, checkpoint: lastCheckpoint, backend: engine.backend, engine: engine.engine,
    trainSeconds: (Date.now() - t0) / 1000, stopped, resumedFrom: resume?.iteration ?? null, restoreSeconds, saveSeconds,
  };
}
