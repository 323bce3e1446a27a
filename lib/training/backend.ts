/**
 * Which TensorFlow.js backend trains: tensorflow-gpu (tfjs-node-gpu, CUDA) → tensorflow (tfjs-node, native CPU) →
 * cpu (pure-JS @tensorflow/tfjs, last resort: ~500x slower on conv nets). Chosen by settings (THAW_BACKEND: an operator's
 * per-worker override) or else the pipeline's `backend`, `auto` taking the fastest one that loads.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { BackendName } from '../pipeline/plan';
import { BackendUnavailableError } from './errors';

export type Tf = typeof tfTypes;
export type EngineName = Exclude<BackendName, 'auto'>;

export interface LoadedBackend {
  name: EngineName;
  tf: Tf;
}

const AUTO_ORDER: EngineName[] = ['tensorflow-gpu', 'tensorflow', 'cpu'];

const PACKAGE_OF: Record<EngineName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  cpu: '@tensorflow/tfjs',
};

const HOW_TO_GET: Record<EngineName, string> = {
  'tensorflow-gpu':
    'on a CUDA host install the tensorflow GPU wheel and @tensorflow/tfjs-node-gpu, then run ' +
    'THAW_TFJS_NODE_PKG=@tensorflow/tfjs-node-gpu scripts/build-tfjs-node.sh (see the script header)',
  tensorflow: 'run `npx thaw setup` (installs @tensorflow/tfjs-node and builds its binding against the tensorflow-cpu wheel)',
  cpu: 'run npm install (the pure-JS @tensorflow/tfjs package is missing)',
};

/** The backend asked for: the worker's override (settings.training.backend) when set, else the pipeline's choice. */
export function requestedBackend(planBackend: BackendName = 'auto', override?: BackendName): BackendName {
  return override ?? planBackend;
}

async function tryLoad(name: EngineName): Promise<{ backend?: LoadedBackend; error?: string }> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tf = require(PACKAGE_OF[name]) as Tf;
    // Select explicitly: with tfjs-node loaded the cpu backend is registered too, and the choice is process-global.
    const tfjsName = name === 'cpu' ? 'cpu' : 'tensorflow';
    if (!(await tf.setBackend(tfjsName))) return { error: `${PACKAGE_OF[name]} did not initialise the ${tfjsName} backend` };
    return { backend: { name, tf } };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}

/** Loads the requested backend (or the fastest present for `auto`); a requested backend that is absent is a UserError. */
export async function loadBackend(request: BackendName, log: (line: string) => void = () => {}): Promise<LoadedBackend> {
  const candidates = request === 'auto' ? AUTO_ORDER : [request];
  const failures: string[] = [];
  for (const name of candidates) {
    const { backend, error } = await tryLoad(name);
    if (backend) {
      log(`training backend: ${name} (${PACKAGE_OF[name]})${request === 'auto' ? ' [auto]' : ''}`);
      // Pure JS is hundreds of times slower: say why the native backend did not load and how to get it.
      if (request === 'auto' && name === 'cpu') log(`the native backend is not set up (${failures.join('; ')}): ${HOW_TO_GET.tensorflow}`);
      return backend;
    }
    failures.push(`${name}: ${error}`);
  }
  const wanted = request === 'auto' ? 'cpu' : request;
  throw new BackendUnavailableError(`training backend ${request} is not available (${failures.join('; ')})`, {
    field: 'backend',
    fix: `${HOW_TO_GET[wanted]}; or choose another backend (pipeline \`backend:\` or THAW_BACKEND: auto, tensorflow, cpu)`,
  });
}

/** Whether a backend's package loads here (without making it the active backend). */
export function backendPresent(name: EngineName): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(PACKAGE_OF[name]);
    return true;
  } catch {
    return false;
  }
}
