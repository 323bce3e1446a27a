/**
 * Training benchmark: step time of thaw's trainer — the graph engine (one TensorFlow graph per stage through
 * libtensorflow's C API, with and without XLA auto-clustering) and the tfjs engine (native TensorFlow through
 * tfjs-node) — against the same network in Keras (TensorFlow for Python on the same libtensorflow: tf.function
 * graph, tf.function(jit_compile=True) and eager), same machine, same run; pure-JS tfjs beside them; peak resident
 * memory of each; and checkpoint save/restore time as a fraction of stage time.
 *
 *   npx tsx bench/training.ts [--steps 10] [--warmup 3] [--cpu-steps 1] [--no-cpu] [--no-xla] [--profile] [--only unet_2d-188]
 *
 * --profile: also one traced graph-engine step per configuration (RunOptions FULL_TRACE), time per TensorFlow op
 * type as it ran after grappler and oneDNN, in process. Peak RSS: the training child's VmHWM (thaw), the Python
 * process' ru_maxrss with one mode per process (Keras); both include the loaded TensorFlow runtime.
 *
 * The networks are NiftyNet 0.6.0's as thaw builds them (lib/training/networks/); training_keras.py builds each one
 * layer for layer, and before anything is timed this checks that the Keras model's trainable variables (count, total
 * size, shapes) and output size equal thaw's. thaw runs each configuration as a real stage (child process,
 * synthetic data, Adam, DicePlusXEnt, checkpoint every 5 iterations); step time is the median gap between progress
 * events after warm-up. A second stage restores the first one's final checkpoint to time restore. DenseVNet runs
 * with augmentation_scale 0 in both (the Keras model leaves the random affine warp out).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { makeDataSource } from '../lib/data';
import type { BackendName, EngineChoice } from '../lib/pipeline/plan';
import { runStage } from '../lib/training';
import { GraphStep } from '../lib/training/engine/graph/graph-step';
import { loadTfC } from '../lib/training/engine/graph/tf-c';
import { readSettings } from '../lib/settings';
import { getNetwork } from '../lib/training/networks';
import { buildStageGraph, loadStartValues } from '../lib/training/stage-setup';
import type { StageResult } from '../lib/training/types';
import { pythonPath, REPO_ROOT } from '../test/helpers/python';
import { stageRequest } from '../test/helpers/training';

const execFileAsync = promisify(execFile);

interface Config {
  name: string;
  network: 'highres3dnet' | 'unet_2d' | 'dense_vnet' | 'unet' | 'toynet';
  /** NiftyNet's params; dims comes from `spatial`. */
  params: Record<string, unknown>;
  spatial: number[];
  batch: number;
}

const CONFIGS: Config[] = [
  { name: 'highres3dnet-16', network: 'highres3dnet', params: {}, spatial: [16, 16, 16], batch: 1 },
  { name: 'highres3dnet-24', network: 'highres3dnet', params: {}, spatial: [24, 24, 24], batch: 1 },
  // VALID convolutions: 188² is the smallest input for five levels, and gives a 4² output (labels cropped to it).
  { name: 'unet_2d-188', network: 'unet_2d', params: { n_features: [16, 32, 64, 128, 256] }, spatial: [188, 188], batch: 2 },
  { name: 'dense_vnet-32', network: 'dense_vnet', params: { augmentation_scale: 0 }, spatial: [32, 32, 32], batch: 1 },
  { name: 'toynet-2d-128', network: 'toynet', params: {}, spatial: [128, 128], batch: 4 },
  // UNet3D needs ≥ 89 voxels a side (it crops 44): 96³, narrow enough for 2 cores; output 8³.
  { name: 'unet-96', network: 'unet', params: { n_features: [4, 8, 8, 16, 16] }, spatial: [96, 96, 96], batch: 1 },
];
const SAVE_EVERY = 5;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

const networkOf = (cfg: Config) => ({ name: cfg.network, params: { ...cfg.params, dims: cfg.spatial.length } });

interface KerasRow {
  name: string;
  graph_ms: number;
  eager_ms: number;
  jit_ms: number;
  graph_rss_mb: number;
  jit_rss_mb: number;
  eager_rss_mb: number;
  trainable_vars: number;
  trainable_size: number;
  trainable_shapes: number[][];
  output_size: number[];
}

const sortShapes = (shapes: number[][]) => shapes.map((s) => JSON.stringify(s)).sort();

/** thaw's network for `cfg`: trainable variables (count, size, shapes) and output size, as training_keras.py reports. */
function thawNetwork(cfg: Config) {
  const { name, params } = networkOf(cfg);
  const net = getNetwork(name);
  const problem = net.inputSizeProblem(params, cfg.spatial);
  if (problem) throw new Error(`${cfg.name}: ${problem}`);
  const shapes = net.variables(params).filter((v) => v.trainable).map((v) => v.shape);
  return {
    trainable_vars: shapes.length, trainable_size: shapes.reduce((n, s) => n + s.reduce((a, d) => a * d, 1), 0),
    shapes, output_size: net.outputSize(params, cfg.spatial),
  };
}

/** Fails unless each Keras model has exactly thaw's trainable variables and output size (the ratio is fair). */
function checkSameNetworks(configs: Config[], keras: Map<string, KerasRow>): void {
  for (const cfg of configs) {
    const thaw = thawNetwork(cfg);
    const k = keras.get(cfg.name)!;
    console.error(`${cfg.name}: ${thaw.trainable_vars} trainable variables, ${thaw.trainable_size} parameters in thaw; ` +
      `${k.trainable_vars}, ${k.trainable_size} in Keras; output ${thaw.output_size.join('×')} / ${k.output_size.join('×')}`);
    const same = thaw.trainable_vars === k.trainable_vars && thaw.trainable_size === k.trainable_size &&
      JSON.stringify(sortShapes(thaw.shapes)) === JSON.stringify(sortShapes(k.trainable_shapes)) &&
      JSON.stringify(thaw.output_size) === JSON.stringify(k.output_size);
    if (!same) throw new Error(`${cfg.name}: the Keras model is not thaw's network (variables or output size differ)`);
  }
}

/** The peak resident memory of a running process so far (VmHWM), in MiB; 0 once it is gone. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function thawStage(cfg: Config, backend: BackendName, warmup: number, steps: number, timeRestore = true,
  engine: EngineChoice = 'graph', xla = false) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `thaw-bench-${cfg.name}-`));
  const spec = {
    modelDir: dir, network: networkOf(cfg), size: cfg.spatial,
    backend, settings: { batch_size: cfg.batch, save_every_n: SAVE_EVERY, lr: 1e-3, engine, xla },
  };
  const gaps: number[] = [];
  let last = 0;
  let pid = 0;
  let rssMb = 0;
  let ranOn = '';
  const wallStart = Date.now();
  const trained: StageResult = await runStage(stageRequest({ ...spec, stage: 'bench', end: warmup + steps }), {
    onLog: (line) => {
      if (line.startsWith('training engine:')) ranOn = line;
    },
    onStart: (p) => (pid = p),
    onProgress: (p) => {
      const now = performance.now();
      if (last && p.iteration > warmup && !p.checkpoint) gaps.push(now - last);
      last = now;
      rssMb = Math.max(rssMb, peakRssMb(pid));
    },
  });
  if (trained.engine !== (engine === 'auto' ? trained.engine : engine)) throw new Error(`${cfg.name}: ran on ${trained.engine}, not ${engine}`);
  const wall = (Date.now() - wallStart) / 1000;
  // Restore timing needs one more (short) stage; skipped for pure JS, where even one step takes minutes.
  const restored = timeRestore ? await runStage(stageRequest({
    ...spec, stage: 'bench_restore', start: warmup + steps, end: warmup + steps + 1, restoreFrom: trained.checkpoint,
  }), { onLog: () => {} }) : null;
  rmSync(dir, { recursive: true, force: true });
  const saves = Math.floor((warmup + steps) / SAVE_EVERY) + ((warmup + steps) % SAVE_EVERY ? 1 : 0);
  return {
    // With a single step (pure JS) there is no gap between progress events: the loop's time per iteration instead.
    stepMs: gaps.length ? median(gaps) : (trained.trainSeconds * 1000) / (warmup + steps),
    saveMs: ((trained.saveSeconds ?? 0) / saves) * 1000,
    restoreMs: (restored?.restoreSeconds ?? 0) * 1000,
    checkpointFraction: ((trained.saveSeconds ?? 0) + (restored?.restoreSeconds ?? 0)) / (trained.trainSeconds + (restored?.restoreSeconds ?? 0)),
    stageSeconds: wall,
    rssMb,
    ranOn,
  };
}

/** One traced graph-engine step of `cfg` in this process (after warm-up steps): time per TensorFlow op type. */
async function profileGraph(cfg: Config, warmup: number) {
  const req = stageRequest({ modelDir: mkdtempSync(path.join(os.tmpdir(), `thaw-bench-prof-`)), network: networkOf(cfg), size: cfg.spatial,
    end: 1, settings: { batch_size: cfg.batch, lr: 1e-3 } });
  const data = makeDataSource(req.data, { seed: req.seed, baseDir: REPO_ROOT });
  const graph = buildStageGraph(req, data);
  const { values } = await loadStartValues(req, graph, null);
  const step = new GraphStep(loadTfC(readSettings().training.tfPackageDir), graph, { batchShape: data.batch(0, cfg.batch).shape, seed: req.seed, settings: req.settings,
    intraOpThreads: 0, interOpThreads: 0, xla: false });
  try {
    step.start(values);
    for (let i = 0; i < warmup; i++) step.step(data.batch(i, cfg.batch), i);
    const { profile } = step.profile(data.batch(warmup, cfg.batch), warmup);
    const total = profile.ops.reduce((a, o) => a + o.totalMicros, 0);
    console.error(`profile ${cfg.name}: traced step ${(profile.wallMicros / 1000).toFixed(1)} ms wall, ${(total / 1000).toFixed(1)} ms summed over ops`);
    for (const o of profile.ops.slice(0, 12)) {
      console.error(`  ${o.op.padEnd(34)} ×${String(o.count).padEnd(5)} ${(o.totalMicros / 1000).toFixed(2).padStart(8)} ms  ${((100 * o.totalMicros) / total).toFixed(1).padStart(5)} %`);
    }
    return profile.ops.slice(0, 8).map((o) => ({ op: o.op, count: o.count, ms: +(o.totalMicros / 1000).toFixed(2), share: +(o.totalMicros / total).toFixed(3) }));
  } finally {
    step.dispose();
  }
}

/** training_keras.py on `configs` in one process: timings (of `mode`, or all), or with `countOnly` just each model's variables and output size. */
async function kerasRun(configs: Config[], warmup: number, steps: number, countOnly: boolean, mode?: string): Promise<KerasRow[]> {
  const file = path.join(os.tmpdir(), `thaw-bench-keras-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(configs.map((c) => ({ ...c, params: networkOf(c).params, warmup, steps }))));
  const script = path.join(REPO_ROOT, 'bench', 'training_keras.py');
  const { stdout } = await execFileAsync(pythonPath(), [script, ...(countOnly ? ['--count'] : []), ...(mode ? ['--mode', mode] : []), file], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' }, maxBuffer: 1 << 24,
  });
  rmSync(file, { force: true });
  return JSON.parse(stdout.trim().split('\n').pop()!) as KerasRow[];
}

const KERAS_MODES = ['graph', 'jit', 'eager'] as const;

/**
 * Keras timings of every mode, one Python process per configuration and mode (so that each mode's peak RSS is its
 * own); with `countOnly`, each model's variables and output size.
 */
async function keras(configs: Config[], warmup: number, steps: number, countOnly = false, modes: readonly string[] = KERAS_MODES): Promise<Map<string, KerasRow>> {
  if (countOnly) return new Map((await kerasRun(configs, warmup, steps, true)).map((r) => [r.name, r]));
  const rows = new Map<string, KerasRow>();
  for (const cfg of configs) {
    for (const mode of modes) {
      const [r] = await kerasRun([cfg], warmup, steps, false, mode);
      const row = rows.get(cfg.name) ?? { ...r, graph_ms: NaN, eager_ms: NaN, jit_ms: NaN, graph_rss_mb: NaN, jit_rss_mb: NaN, eager_rss_mb: NaN };
      Object.assign(row, { [`${mode}_ms`]: (r as unknown as Record<string, number>)[`${mode}_ms`],
        [`${mode}_rss_mb`]: (r as unknown as { peak_rss_mb: number }).peak_rss_mb });
      rows.set(cfg.name, row);
    }
  }
  return rows;
}

async function main() {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '10' }, warmup: { type: 'string', default: '3' },
      'cpu-steps': { type: 'string', default: '1' }, 'no-cpu': { type: 'boolean', default: false }, only: { type: 'string' },
      'no-xla': { type: 'boolean', default: false }, profile: { type: 'boolean', default: false },
    },
  });
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const configs = CONFIGS.filter((c) => !values.only || c.name === values.only);
  if (configs.length === 0) throw new Error(`no configuration ${values.only}; one of ${CONFIGS.map((c) => c.name).join(', ')}`);
  checkSameNetworks(configs, await keras(configs, warmup, steps, true));
  const rows = [];
  type Stage = Awaited<ReturnType<typeof thawStage>>;
  for (const cfg of configs) {
    const graph = await thawStage(cfg, 'auto', warmup, steps, true, 'graph');
    console.error(`thaw ${cfg.name}: ${graph.stepMs.toFixed(1)} ms/step graph engine (peak RSS ${graph.rssMb.toFixed(0)} MiB; ${graph.ranOn})`);
    const xla = values['no-xla'] ? null : await thawStage(cfg, 'auto', warmup, steps, false, 'graph', true);
    if (xla) console.error(`thaw ${cfg.name}: ${xla.stepMs.toFixed(1)} ms/step graph engine with XLA (peak RSS ${xla.rssMb.toFixed(0)} MiB)`);
    const native = await thawStage(cfg, 'tensorflow', warmup, steps, false, 'tfjs');
    console.error(`thaw ${cfg.name}: ${native.stepMs.toFixed(1)} ms/step tfjs engine, native (peak RSS ${native.rssMb.toFixed(0)} MiB)`);
    rows.push({ cfg, graph, xla, native, pureJs: null as null | Stage });
  }
  const ref = await keras(configs, warmup, steps, false, values['no-xla'] ? ['graph', 'eager'] : KERAS_MODES);
  checkSameNetworks(configs, ref);
  for (const [name, k] of ref) {
    console.error(`keras ${name}: ${k.graph_ms.toFixed(1)} ms/step graph, ${k.jit_ms.toFixed(1)} jit_compile, ${k.eager_ms.toFixed(1)} eager`);
  }
  // Pure JS last (minutes per step): the smallest configuration of each network, one step.
  if (!values['no-cpu']) {
    for (const row of rows) {
      if (row.cfg !== configs.find((c) => c.network === row.cfg.network)) continue;
      row.pureJs = await thawStage(row.cfg, 'cpu', 0, Number(values['cpu-steps']), false, 'tfjs');
      console.error(`thaw ${row.cfg.name}: ${row.pureJs.stepMs.toFixed(0)} ms/step pure JS`);
    }
  }
  const profiles = new Map<string, unknown>();
  if (values.profile) for (const cfg of configs) profiles.set(cfg.name, await profileGraph(cfg, warmup));
  const round = (x: number, digits = 1) => (Number.isFinite(x) ? +x.toFixed(digits) : null);
  const table = rows.map(({ cfg, graph, xla, native, pureJs }) => {
    const k = ref.get(cfg.name)!;
    return {
      config: `${cfg.name} (batch ${cfg.batch})`,
      params: k.trainable_size,
      thaw_graph_ms: round(graph.stepMs),
      thaw_tfjs_ms: round(native.stepMs),
      keras_graph_ms: round(k.graph_ms),
      keras_eager_ms: round(k.eager_ms),
      graph_vs_keras_graph: round(graph.stepMs / k.graph_ms, 2),
      tfjs_vs_keras_graph: round(native.stepMs / k.graph_ms, 2),
      tfjs_vs_keras_eager: round(native.stepMs / k.eager_ms, 2),
      thaw_graph_xla_ms: xla ? round(xla.stepMs) : null,
      keras_jit_ms: round(k.jit_ms),
      xla_vs_keras_jit: xla ? round(xla.stepMs / k.jit_ms, 2) : null,
      thaw_pure_js_ms: pureJs ? +pureJs.stepMs.toFixed(0) : null,
      thaw_graph_rss_mb: round(graph.rssMb, 0),
      thaw_graph_xla_rss_mb: xla ? round(xla.rssMb, 0) : null,
      thaw_tfjs_rss_mb: round(native.rssMb, 0),
      keras_graph_rss_mb: round(k.graph_rss_mb, 0),
      keras_jit_rss_mb: round(k.jit_rss_mb, 0),
      keras_eager_rss_mb: round(k.eager_rss_mb, 0),
      ckpt_save_ms: round(graph.saveMs),
      ckpt_restore_ms: round(graph.restoreMs),
      ckpt_fraction_of_stage: round(graph.checkpointFraction, 3),
      ...(profiles.has(cfg.name) ? { graph_profile: profiles.get(cfg.name) } : {}),
    };
  });
  console.table(table.map(({ graph_profile: _p, ...row }) => row));
  const ratios = table.map((r) => r.graph_vs_keras_graph).filter((x): x is number => x !== null);
  const xlaRatios = table.map((r) => r.xla_vs_keras_jit).filter((x): x is number => x !== null);
  const summary = {
    graph_vs_keras_graph_median: round(median(ratios), 2), graph_vs_keras_graph_worst: round(Math.max(...ratios), 2),
    xla_vs_keras_jit_median: xlaRatios.length ? round(median(xlaRatios), 2) : null,
    xla_vs_keras_jit_worst: xlaRatios.length ? round(Math.max(...xlaRatios), 2) : null,
  };
  console.error(`summary: ${JSON.stringify(summary)}`);
  console.log(JSON.stringify({ steps, warmup, saveEvery: SAVE_EVERY, cores: os.cpus().length, load: os.loadavg(), summary, rows: table }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
