/** `model_dir/loss.svg`: every stage's loss curve from the JSON-lines logs, in one picture. */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderLossCurveSvg, type LossCurveOptions } from './loss-curve-svg';
import { readLossLog, type LossSeries } from './loss-log';
import { lossCurveFile } from './paths';

/** Stages in `stageOrder` first (in that order, so colours follow the pipeline), then any others. */
function ordered(series: LossSeries[], stageOrder?: string[]): LossSeries[] {
  if (!stageOrder) return series;
  const rank = (s: LossSeries) => {
    const i = stageOrder.indexOf(s.stage);
    return i < 0 ? stageOrder.length : i;
  };
  return [...series].sort((a, b) => rank(a) - rank(b));
}

/** Writes model_dir/loss.svg (atomically) and returns its path. */
export function writeLossCurve(modelDir: string, stageOrder?: string[], opts: LossCurveOptions = {}, localRunsDir?: string): string {
  const series = ordered(readLossLog(modelDir, localRunsDir), stageOrder);
  const svg = renderLossCurveSvg(series, { title: `loss — ${path.basename(path.resolve(modelDir))}`, ...opts });
  const file = lossCurveFile(modelDir, localRunsDir);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, svg);
  renameSync(tmp, file);
  return file;
}
