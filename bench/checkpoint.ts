/**
 * Checkpoint benchmark: thaw against TensorFlow for Python on the same files in the same run, next to raw disk
 * throughput. Each measurement runs in a fresh process so peak RSS is its own; thaw and TensorFlow runs alternate and
 * the fastest of `--repeat` counts for each.
 *
 *   npx tsx bench/checkpoint.ts [--dir DIR] [--vars 20000] [--tensors 128] [--tensor-mb 8] [--repeat 2]
 *
 * Operations: list a checkpoint of 20,000 variables; read (and verify) every tensor of a ~1 GiB checkpoint; write a
 * ~1 GiB checkpoint (tensors already in memory); raw sequential read and write (+fsync) of a file of the same size.
 * The files are in the page cache for every reader alike (no cache dropping). thaw fsyncs what it writes; TensorFlow's
 * SaveV2 does not, so the raw write (with fsync) is the bound to compare thaw's write with.
 */
import { execFile } from 'node:child_process';
import { open, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { CheckpointReader, writeCheckpoint, type Tensor } from '../lib/checkpoint';
import { pythonPath, REPO_ROOT } from '../test/helpers/python';

const execFileAsync = promisify(execFile);

interface Measure {
  seconds: number;
  rss_mb: number;
  baseline_rss_mb: number;
  count?: number;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

function bigTensors(count: number, mb: number): Map<string, Tensor> {
  const elements = (mb << 20) / 4;
  const out = new Map<string, Tensor>();
  for (let i = 0; i < count; i++) out.set(`net/layer_${String(i).padStart(3, '0')}/kernel`, { dtype: 'float32', shape: [elements], data: new Float32Array(elements).fill(i) });
  return out;
}

function manyTensors(count: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (let i = 0; i < count; i++) {
    out.set(`net/block_${String(i).padStart(5, '0')}/conv/weights`, { dtype: 'float32', shape: [3, 3, 4, 4], data: new Float32Array(144).fill(i) });
  }
  return out;
}

/** The operations, run inside a child process (`--child OP ...`). */
async function child(op: string, args: string[]): Promise<Measure> {
  const baseline = peakRssMb();
  let start = performance.now();
  let count = 0;
  if (op === 'list') {
    const reader = await CheckpointReader.open(args[0]);
    count = reader.variables().length;
    await reader.close();
  } else if (op === 'read') {
    const reader = await CheckpointReader.open(args[0]);
    for await (const [, t] of reader.readAll()) count += (t.data as Float32Array).byteLength;
    await reader.close();
  } else if (op === 'write' || op === 'setup-big') {
    const tensors = bigTensors(Number(args[1]), Number(args[2]));
    start = performance.now();
    await writeCheckpoint(args[0], tensors);
    count = tensors.size;
  } else if (op === 'setup-many') {
    await writeCheckpoint(args[0], manyTensors(Number(args[1])));
  } else if (op === 'raw-write') {
    const chunk = Buffer.alloc(8 << 20, 7);
    const fh = await open(args[0], 'w');
    for (let done = 0; done < Number(args[1]) << 20; done += chunk.length) await fh.write(chunk);
    await fh.sync();
    await fh.close();
  } else if (op === 'raw-read') {
    const chunk = Buffer.alloc(8 << 20);
    const fh = await open(args[0], 'r');
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      count += bytesRead;
    }
    await fh.close();
  } else {
    throw new Error(`unknown op ${op}`);
  }
  return { seconds: (performance.now() - start) / 1000, rss_mb: peakRssMb(), baseline_rss_mb: baseline, count };
}

async function runThaw(op: string, ...args: string[]): Promise<Measure> {
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', __filename, '--child', op, ...args], { cwd: REPO_ROOT, maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

async function runTf(op: string, ...args: string[]): Promise<Measure> {
  const { stdout } = await execFileAsync(pythonPath(), [path.join(REPO_ROOT, 'bench', 'checkpoint_tf.py'), op, ...args], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' }, maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const fastest = (runs: Measure[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));

async function best(repeat: number, run: () => Promise<Measure>): Promise<Measure> {
  const runs: Measure[] = [];
  for (let i = 0; i < repeat; i++) runs.push(await run());
  return fastest(runs);
}

/** Runs thaw and TensorFlow alternately (so a busy machine slows both alike) and keeps each one's fastest run. */
async function pair(repeat: number, thaw: () => Promise<Measure>, tf: () => Promise<Measure>): Promise<[Measure, Measure]> {
  const ours: Measure[] = [];
  const theirs: Measure[] = [];
  for (let i = 0; i < repeat; i++) {
    ours.push(await thaw());
    theirs.push(await tf());
  }
  return [fastest(ours), fastest(theirs)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: '/tmp/thaw-bench' },
      vars: { type: 'string', default: '20000' },
      tensors: { type: 'string', default: '128' },
      'tensor-mb': { type: 'string', default: '8' },
      repeat: { type: 'string', default: '2' },
    },
  });
  const dir = values.dir!;
  const repeat = Number(values.repeat);
  const tensors = values.tensors!;
  const tensorMb = values['tensor-mb']!;
  const totalMb = Number(tensors) * Number(tensorMb);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const many = path.join(dir, 'many', 'model.ckpt-1');
  const big = path.join(dir, 'big', 'model.ckpt-1');
  console.error(`setting up ${values.vars} variables and ${totalMb} MiB in ${dir} ...`);
  await runThaw('setup-many', many, values.vars!);
  await runThaw('setup-big', big, tensors, tensorMb);

  const rows: [string, Measure, Measure | null, number | null][] = [];
  const raw = path.join(dir, 'raw.bin');
  const rawWrite = await best(repeat, () => runThaw('raw-write', raw, String(totalMb)));
  const rawRead = await best(repeat, () => runThaw('raw-read', raw));
  await rm(raw);
  rows.push(['raw disk write (fsync)', rawWrite, null, totalMb], ['raw disk read', rawRead, null, totalMb]);
  rows.push([`list ${values.vars} variables`, ...await pair(repeat + 1, () => runThaw('list', many), () => runTf('list', many)), null]);
  rows.push([`read all tensors (${totalMb} MiB)`, ...await pair(repeat, () => runThaw('read', big), () => runTf('read', big)), totalMb]);
  const out = path.join(dir, 'out', 'model.ckpt-2');
  await mkdir(path.dirname(out), { recursive: true });
  rows.push([`write one checkpoint (${totalMb} MiB)`, ...await pair(repeat, () => runThaw('write', out, tensors, tensorMb),
    () => runTf('write', `${out}-tf`, tensors, tensorMb)), totalMb]);

  const fmt = (m: Measure | null, mb: number | null) =>
    m ? `${m.seconds.toFixed(3)} s${mb ? ` (${Math.round(mb / m.seconds)} MiB/s)` : ''}, RSS ${Math.round(m.rss_mb)} MB (base ${Math.round(m.baseline_rss_mb)})` : '-';
  console.log('| operation | thaw | TensorFlow | thaw / TF time |');
  console.log('|---|---|---|---|');
  for (const [name, ours, tf, mb] of rows) {
    console.log(`| ${name} | ${fmt(ours, mb)} | ${fmt(tf, mb)} | ${tf ? (ours.seconds / tf.seconds).toFixed(2) : '-'} |`);
  }
  await rm(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv.slice(4)).then((m) => console.log(JSON.stringify(m)));
} else {
  void main();
}
