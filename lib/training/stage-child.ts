/**
 * Entry of the child process that runs one stage's training loop (forked by run-stage.ts), so that long synchronous
 * training steps never starve the caller's event loop. Protocol over IPC:
 *   parent → child: { type: 'run', request } once, then possibly { type: 'stop' }
 *   child → parent: { type: 'log' | 'progress' | 'result' | 'error', … }
 * SIGTERM/SIGINT count as stop: the loop checkpoints at the current iteration and the result says stopped.
 */
import { isUserError } from '../errors';
import { readSettings } from '../settings';
import { trainInProcess } from './trainer';
import type { ChildMessage, ParentMessage } from './stage-protocol';

let stopRequested = false;
const requestStop = () => {
  stopRequested = true;
};
process.on('SIGTERM', requestStop);
process.on('SIGINT', requestStop);

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function run(message: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
  try {
    // This process' edge: settings come from the parent, or are read here once.
    const settings = message.settings ?? readSettings();
    const result = await trainInProcess(message.request, settings, {
      onProgress: (progress) => void send({ type: 'progress', progress }),
      shouldStop: () => stopRequested,
      log: (line) => void send({ type: 'log', line }),
    });
    await send({ type: 'result', result });
  } catch (err) {
    const e = err as Error;
    await send(isUserError(err)
      ? { type: 'error', userError: { type: err.type, message: err.message, details: err.details } }
      : { type: 'error', message: e?.message ?? String(err), stack: e?.stack });
  }
  process.exit(0);
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stop') requestStop();
  else if (message.type === 'run') void run(message);
});
// Parent gone (crashed or killed): stop at the next iteration, checkpointing what was done.
process.on('disconnect', requestStop);
