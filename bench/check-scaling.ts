/**
 * `thaw check` against the number of stages: wall time of the check command in this process (through the CLI's
 * dispatcher, app/cli/main.ts, as `npx thaw check` runs it) on generated pipelines of N stages, in three shapes:
 * a chain (each stage after the previous), a fork (every stage after the first) and independent roots. Each stage
 * freezes by a regex, so the selection work per stage is real. Prints the time per N and the ratio between
 * successive sizes (2× the stages: ~2× the time when linear, ~4× when quadratic). Pipelines above the stage limit
 * (lib/pipeline/limits.ts) are refused: their rows show how fast the refusal is.
 *
 *   npx tsx bench/check-scaling.ts [--sizes 125,250,500,1000,2000,8000,60000] [--repeat 3]
 *
 * Then the stage ordering and checkpoint folders alone (lib/pipeline/dag.ts, folders.ts) beyond the limit, up to
 * 64,000 stages: the parts that were quadratic (a `find` per placed stage, copied sibling lists).
 *
 * The first part runs against an older checkout too (copy this file into that tree's bench/): it uses only `main`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../app/cli/main';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '125,250,500,1000,2000,8000,60000' },
    repeat: { type: 'string', default: '3' },
    shapes: { type: 'string', default: 'chain,fork,roots' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const repeat = Number(values.repeat);
const shapes = values.shapes.split(',');

function pipeline(n: number, shape: string): string {
  const lines = [
    'name: scaling',
    'network: {name: toynet, params: {dims: 2, hidden_features: 4}}',
    'data: {kind: synthetic, task: A, spatial_size: [8, 8]}',
    'stages:',
  ];
  for (let i = 0; i < n; i++) {
    const after = shape === 'chain' ? '' : shape === 'roots' || i === 0 ? ', after: null' : ', after: s0';
    lines.push(`  - {name: s${i}, iterations: 10, vars_to_freeze: ['^ToyNet/conv_input'], lr: 0.001${after}}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One `thaw check`, its output swallowed; returns [ms, exit code, last line]. */
async function timeCheck(file: string): Promise<[number, number, string]> {
  const log = console.log;
  const error = console.error;
  const printed: string[] = [];
  console.log = (...parts: unknown[]) => printed.push(parts.join(' '));
  console.error = console.log;
  const before = process.exitCode;
  const t0 = process.hrtime.bigint();
  try {
    await main(['check', file]);
  } finally {
    console.log = log;
    console.error = error;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const code = Number(process.exitCode ?? 0);
  process.exitCode = before;
  const last = printed.join('\n').trim().split('\n').filter((l) => l.startsWith('error:')).at(0) ?? printed.join('\n').trim().split('\n').at(-1) ?? '';
  return [ms, code, last];
}

async function run(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-bench-check-'));
  try {
    // Warm up module loading, the network registry and the regex sandbox.
    await writeFile(path.join(dir, 'warm.yaml'), pipeline(10, 'chain'));
    await timeCheck(path.join(dir, 'warm.yaml'));
    console.log(`thaw check, best of ${repeat}, ${os.cpus().length} CPUs, node ${process.version}`);
    console.log('shape  stages  bytes      ms  ratio  exit  outcome');
    for (const shape of shapes) {
      let previous: number | null = null;
      for (const n of sizes) {
        const text = pipeline(n, shape);
        const file = path.join(dir, `${shape}-${n}.yaml`);
        await writeFile(file, text);
        let best = Infinity;
        let code = 0;
        let last = '';
        for (let r = 0; r < repeat; r++) {
          const [ms, c, l] = await timeCheck(file);
          if (ms < best) best = ms;
          code = c;
          last = l;
        }
        const ratio = previous === null ? '' : (best / previous).toFixed(1);
        previous = best;
        const outcome = last.length > 90 ? `${last.slice(0, 87)}...` : last;
        console.log(`${shape.padEnd(5)}  ${String(n).padStart(6)}  ${String(text.length).padStart(8)}  ${best.toFixed(0).padStart(6)}  ${ratio.padStart(5)}  ${String(code).padStart(4)}  ${outcome.replace(dir, '<dir>')}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await orderingBeyondTheLimit();
}

async function orderingBeyondTheLimit(): Promise<void> {
  let order: typeof import('../lib/pipeline/dag');
  let folders: typeof import('../lib/pipeline/folders');
  try {
    order = await import('../lib/pipeline/dag');
    folders = await import('../lib/pipeline/folders');
  } catch {
    return; // an older checkout
  }
  console.log('\nstage order + checkpoint folders alone (no limit)');
  console.log('shape  stages      ms  ratio');
  for (const shape of ['chain', 'fork']) {
    let previous: number | null = null;
    for (let n = 4000; n <= 64000; n *= 2) {
      const links = Array.from({ length: n }, (_, i) => ({
        name: `s${i}`,
        after: i === 0 ? null : shape === 'chain' ? `s${i - 1}` : 's0',
      }));
      const t0 = process.hrtime.bigint();
      const result = order.topologicalOrder(links.slice().reverse());
      if (!('order' in result)) throw new Error('unexpected cycle');
      folders.checkpointFolders('/runs/x', links);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      console.log(`${shape.padEnd(5)}  ${String(n).padStart(6)}  ${ms.toFixed(1).padStart(6)}  ${previous === null ? '' : (ms / previous).toFixed(1).padStart(5)}`);
      previous = ms;
    }
  }
}

void run();
