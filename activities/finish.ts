/**
 * finishPipeline (cpu task queue): the loss curve across all stages, with stage boundaries, as model_dir/loss.svg.
 * Branch stages log in their own folders (model_dir/branches/<stage>/logs), so the series are gathered from every
 * checkpoint folder of the plan.
 */
import path from 'node:path';
import type { FinishRequest } from '../contract';
import { writeFileAtomic } from '../lib/storage/atomic-files';
import { lossCurveFile, readLossLog, renderLossCurveSvg, writeLossCurve, type LossSeries } from '../lib/metrics';
import { UserError } from '../lib/errors';
import { LossCurveUnwritableError, writingInto } from './failures';

export interface FinishOptions {
  /** Where local copies of remote runs' metrics are (settings.storage.localRunsDir); needed for s3:// model_dirs. */
  localRunsDir?: string;
}

export function makeFinishPipeline(options: FinishOptions = {}) {
  const { localRunsDir } = options;
  /** Returns the path of the picture. */
  return async function finishPipeline(request: FinishRequest): Promise<string> {
    const file = lossCurveFile(request.modelDir, localRunsDir);
    return writingInto(path.dirname(file), () => unwritableAsUserError(file, async () => {
      const order = request.stages.map((s) => s.name);
      const folders = [...new Set(request.stages.map((s) => s.checkpointDir))];
      if (folders.length === 1 && folders[0] === request.modelDir) return writeLossCurve(request.modelDir, order, {}, localRunsDir);
      const series: LossSeries[] = [];
      for (const folder of folders) {
        const here = new Set(request.stages.filter((s) => s.checkpointDir === folder).map((s) => s.name));
        series.push(...readLossLog(folder, localRunsDir).filter((s) => here.has(s.stage)));
      }
      series.sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage));
      const svg = renderLossCurveSvg(series, { title: `loss — ${path.basename(request.modelDir)}` });
      await writeFileAtomic(file, Buffer.from(svg));
      return file;
    }));
  };
}

/**
 * The picture is a convenience: a filesystem error writing it (loss.svg is a folder, the disk is full) is not
 * retried, which could only fail again and hold up the end of the run (or its cancellation).
 */
async function unwritableAsUserError(file: string, body: () => Promise<string>): Promise<string> {
  try {
    return await body();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (typeof code !== 'string' || err instanceof UserError) throw err;
    throw new LossCurveUnwritableError(`the loss curve ${file} cannot be written (${(err as Error).message})`, {
      file,
      fix: 'remove or rename what is in the way of loss.svg, or free space; the checkpoints are not affected',
    });
  }
}
