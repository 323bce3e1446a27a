// A workflow used only by the server tests: it blocks until signalled, so its state must survive a server restart.
import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const proceed = defineSignal<[string]>('proceed');

export async function waitForSignal(): Promise<string> {
  let message: string | undefined;
  setHandler(proceed, (m) => {
    message = m;
  });
  await condition(() => message !== undefined);
  return `got ${message}`;
}
