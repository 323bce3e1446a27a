/** Human output of runs: progress bars of running stages, the stage table and the end-of-run summary. */
import type { PipelineResult, PipelineStatus, StageStatus } from '../../contract';
import { formatTable } from '../../lib/util/text-table';

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function num(x: number | null | undefined, digits = 4): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** One line per stage: a progress bar with iteration, loss, it/s and ETA while it runs, its state otherwise. */
export function stageLine(s: StageStatus, nameWidth: number): string {
  const name = s.name.padEnd(nameWidth);
  const start = s.startIteration ?? 0;
  const end = s.endIteration ?? start + s.iterations;
  const at = s.iteration ?? start;
  const fraction = s.state === 'done' ? 1 : (at - start) / Math.max(1, s.iterations);
  const position = s.startIteration === null ? `-/+${s.iterations}` : `${at}/${end}`;
  const head = `${name} ${bar(fraction)} ${position.padStart(String(end).length * 2 + 1)}`;
  if (s.state === 'running') {
    return `${head}  loss ${num(s.loss)}  ${num(s.itPerSec, 1)} it/s  ETA ${formatDuration(s.etaSeconds)}`;
  }
  if (s.state === 'done') return `${head}  loss ${num(s.loss)}  done in ${formatDuration(s.summary?.wallSeconds ?? null)}`;
  if (s.state === 'failed') return `${head}  FAILED: ${s.error ?? ''}`;
  return `${head}  ${s.state}`;
}

export function statusLines(status: PipelineStatus): string[] {
  const width = Math.max(...status.stages.map((s) => s.name.length));
  const eta = status.etaSeconds === null ? '' : `, ETA ${formatDuration(status.etaSeconds)}`;
  return [`${status.name}: ${status.state}${eta}`, ...status.stages.map((s) => `  ${stageLine(s, width)}`)];
}

export function summaryTable(result: PipelineResult): string {
  const rows = result.stages.map((s) => [
    s.stage,
    `${s.startIteration}→${s.endIteration}`,
    num(s.finalLoss),
    s.trainSeconds.toFixed(1),
    s.wallSeconds.toFixed(1),
    String(s.attempts),
    s.checkpoint,
  ]);
  return formatTable(['stage', 'iterations', 'final loss', 'train s', 'wall s', 'attempts', 'checkpoint'], rows);
}
