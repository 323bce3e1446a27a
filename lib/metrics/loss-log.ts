/**
 * Per-iteration loss as JSON lines, one file per stage: `model_dir/logs/<stage>.jsonl`, each line
 * `{"stage","iteration","loss","itPerSec","time"}` (time in Unix seconds; a non-finite loss is stored as null).
 *
 * Resume without duplicates: opening a stage's log for writing at `resumeFromIteration` rewrites the file (to a
 * temporary name, then renamed) without the entries at or after that iteration, and without a torn last line from
 * a crash. Readers additionally keep only the last entry per (stage, iteration), so even a log written by an
 * interrupted rewrite reads without duplicates.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppendFile } from './append-file';
import { logsDir, lossLogFile } from './paths';

export interface LossEntry {
  stage: string;
  iteration: number;
  loss: number | null;
  itPerSec: number;
  time: number;
}

export interface LossSeries {
  stage: string;
  /** [iteration, loss], iteration ascending, finite losses only. */
  points: [number, number][];
}

function parseLines(text: string): LossEntry[] {
  const entries: LossEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as LossEntry;
      if (typeof e.stage === 'string' && Number.isInteger(e.iteration)) entries.push(e);
    } catch {
      // a torn line from a crash mid-write: skip it
    }
  }
  return entries;
}

export class LossLogWriter {
  private readonly out: AppendFile;

  constructor(modelDir: string, private readonly stage: string, resumeFromIteration: number, localRunsDir?: string) {
    const file = lossLogFile(modelDir, stage, localRunsDir);
    mkdirSync(path.dirname(file), { recursive: true });
    if (existsSync(file)) {
      const kept = parseLines(readFileSync(file, 'utf8')).filter((e) => e.iteration < resumeFromIteration);
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, kept.map((e) => JSON.stringify(e) + '\n').join(''));
      renameSync(tmp, file);
    }
    this.out = new AppendFile(file, 'a');
  }

  append(iteration: number, loss: number, itPerSec: number): void {
    const entry: LossEntry = { stage: this.stage, iteration, loss: Number.isFinite(loss) ? loss : null, itPerSec, time: Date.now() / 1000 };
    this.out.write(JSON.stringify(entry) + '\n');
  }

  flush(): void {
    this.out.flush();
  }

  close(): void {
    this.out.close();
  }
}

/** Every stage's loss curve from `model_dir/logs/*.jsonl`, deduplicated, ordered by first iteration. */
export function readLossLog(modelDir: string, localRunsDir?: string): LossSeries[] {
  const dir = logsDir(modelDir, localRunsDir);
  if (!existsSync(dir)) return [];
  const byStage = new Map<string, Map<number, number | null>>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const e of parseLines(readFileSync(path.join(dir, name), 'utf8'))) {
      const points = byStage.get(e.stage) ?? new Map<number, number | null>();
      points.set(e.iteration, e.loss); // last entry wins
      byStage.set(e.stage, points);
    }
  }
  const series: LossSeries[] = [...byStage].map(([stage, points]) => ({
    stage,
    points: [...points]
      .filter((p): p is [number, number] => typeof p[1] === 'number' && Number.isFinite(p[1]))
      .sort((a, b) => a[0] - b[0]),
  }));
  const first = (s: LossSeries) => (s.points.length ? s.points[0][0] : Infinity);
  return series.sort((a, b) => first(a) - first(b) || a.stage.localeCompare(b.stage));
}
