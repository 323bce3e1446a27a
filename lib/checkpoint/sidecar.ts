/** thaw's sidecar next to a checkpoint, `<prefix>.thaw.json`: which stage of which pipeline wrote it, and how. */
import { storagesOf, type StoragesOption } from '../storage';
import { CheckpointError, fileError } from './errors';
import { SIDECAR_MAX_BYTES } from './limits';
import { sidecarFile } from './names';

/** The sidecar JSON thaw wrote next to a checkpoint, or null when there is none. */
export async function readSidecar(prefix: string, options: StoragesOption = {}): Promise<unknown | null> {
  const file = sidecarFile(prefix);
  let text: string;
  try {
    text = (await storagesOf(options).for(file).readFile(file, { maxBytes: SIDECAR_MAX_BYTES })).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(err, file, 'checkpoint sidecar');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${file} is not valid JSON (${(err as Error).message})`, { file });
  }
}
