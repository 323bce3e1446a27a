/**
 * Training engines behind one interface: a stage's step (one optimiser iteration on a batch) and its variables'
 * values. `graph` builds each stage's step as one TensorFlow graph through libtensorflow's C API (graph/); `tfjs`
 * runs it op by op on TensorFlow.js (tfjs-trainer.ts). Chosen by THAW_ENGINE (an operator's per-worker override) or
 * else the stage's `engine` setting; `auto` takes graph where it loads and can train the network, else tfjs, and
 * says why.
 */
import type { Batch } from '../../data';
import { UserError } from '../../errors';
import type { EngineChoice } from '../../pipeline/plan';

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

const ENGINE_CHOICES: EngineChoice[] = ['auto', 'graph', 'tfjs'];

/** The engine asked for: THAW_ENGINE when set, else the stage's setting (default auto). */
export function requestedEngine(setting: EngineChoice | undefined, env: NodeJS.ProcessEnv = process.env): EngineChoice {
  const fromEnv = env.THAW_ENGINE?.trim();
  if (!fromEnv) return setting ?? 'auto';
  if (!(ENGINE_CHOICES as string[]).includes(fromEnv)) {
    throw new UserError('UnknownEngine', `THAW_ENGINE=${fromEnv} is not a training engine; known: ${ENGINE_CHOICES.join(', ')}`, {
      field: 'THAW_ENGINE', fix: `set THAW_ENGINE to one of ${ENGINE_CHOICES.join(', ')} or unset it`,
    });
  }
  return fromEnv as EngineChoice;
}

export interface GraphOptions {
  xla: boolean;
  intraOpThreads: number;
  interOpThreads: number;
}

function intEnv(env: NodeJS.ProcessEnv, name: string): number {
  const raw = env[name]?.trim();
  if (!raw) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new UserError('BadSetting', `${name}=${raw} is not a thread count`, { field: name, fix: `set ${name} to a whole number (0: TensorFlow's default)` });
  }
  return n;
}

/** The graph engine's options: the stage's `xla` setting (THAW_XLA=1/0 overrides), threads from THAW_INTRA/INTER_OP_THREADS. */
export function graphOptions(xlaSetting: boolean | undefined, env: NodeJS.ProcessEnv = process.env): GraphOptions {
  const xlaEnv = env.THAW_XLA?.trim();
  const xla = xlaEnv ? xlaEnv === '1' || xlaEnv === 'true' : xlaSetting === true;
  return { xla, intraOpThreads: intEnv(env, 'THAW_INTRA_OP_THREADS'), interOpThreads: intEnv(env, 'THAW_INTER_OP_THREADS') };
}
