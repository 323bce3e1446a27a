/**
 * Training engines behind one interface: a stage's step (one optimiser iteration on a batch) and its variables'
 * values. `graph` builds each stage's step as one TensorFlow graph through libtensorflow's C API (graph/); `tfjs`
 * runs it op by op on TensorFlow.js (tfjs-trainer.ts). Chosen by settings.training.engine (THAW_ENGINE: an operator's per-worker override) or
 * else the stage's `engine` setting; `auto` takes graph where it loads and can train the network, else tfjs, and
 * says why.
 */
import type { Batch } from '../../data';
import type { EngineChoice } from '../../pipeline/plan';
import type { TrainingProcessSettings } from '../../settings';

export type TrainingEngineName = Exclude<EngineChoice, 'auto'>;

export interface StepEngine {
  engine: TrainingEngineName;
  /** Where it runs: tensorflow (native CPU), tensorflow-gpu, cpu (pure JS). */
  backend: string;
  /** One line for the log: engine, library, devices, options. */
  description: string;
  /** One iteration on the batch of `iteration`; returns the loss (a promise where the step runs off the event loop). */
  step(batch: Batch, iteration: number): number | Promise<number>;
  /** Every stage variable's current value. */
  values(): Map<string, Float32Array>;
  dispose(): void;
}

/** The engine asked for: the worker's override (settings.training.engine) when set, else the stage's setting (default auto). */
export function requestedEngine(setting: EngineChoice | undefined, override?: EngineChoice): EngineChoice {
  return override ?? setting ?? 'auto';
}

export interface GraphOptions {
  xla: boolean;
  intraOpThreads: number;
  interOpThreads: number;
}

/** The graph engine's options: the stage's `xla` setting unless the worker's settings override it, and their thread pools. */
export function graphOptions(xlaSetting: boolean | undefined, settings: Pick<TrainingProcessSettings, 'xla' | 'intraOpThreads' | 'interOpThreads'>): GraphOptions {
  return { xla: settings.xla ?? xlaSetting === true, intraOpThreads: settings.intraOpThreads, interOpThreads: settings.interOpThreads };
}
