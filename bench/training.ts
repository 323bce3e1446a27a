/**
 * Training benchmark: step time of thaw's trainer (native TensorFlow through tfjs-node) against the same network in
 * Keras (TensorFlow for Python on the same libtensorflow, tf.function graph and eager), same machine, same run;
 * pure-JS tfjs beside them; and checkpoint save/restore time as a fraction of stage time.
 *
 *   npx tsx bench/training.ts [--steps 10] [--warmup 3] [--cpu-steps 1] [--no-cpu] [--only unet_2d-188]
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
import type { BackendName } from '../lib/pipeline/plan';
import { runStage } from '../lib/training';
import { getNetwork } from '../lib/training/networks';
import type { StageResult } from '../lib/training/types';
import { pythonPath, REPO_ROOT } from '../test/helpers/python';
import { stageRequest } from '../test/helpers/training';

const execFileAsync = promisify(execFile);

interface Config {
  name: string;
  network: 'highres3dnet' | 'unet_2d' | 'dense_vnet' | 'toynet';
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

async function thawStage(cfg: Config, backend: BackendName, warmup: number, steps: number, timeRestore = true) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `thaw-bench-${cfg.name}-`));
  const spec = {
    modelDir: dir, network: networkOf(cfg), size: cfg.spatial,
    backend, settings: { batch_size: cfg.batch, save_every_n: SAVE_EVERY, lr: 1e-3 },
  };
  const gaps: number[] = [];
  let last = 0;
  const wallStart = Date.now();
  const trained: StageResult = await runStage(stageRequest({ ...spec, stage: 'bench', end: warmup + steps }), {
    onLog: () => {},
    onProgress: (p) => {
      const now = performance.now();
      if (last && p.iteration > warmup && !p.checkpoint) gaps.push(now - last);
      last = now;
    },
  });
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
  };
}

/** training_keras.py on `configs`: timings, or with `countOnly` just each model's variables and output size. */
async function keras(configs: Config[], warmup: number, steps: number, countOnly = false): Promise<Map<string, KerasRow>> {
  const file = path.join(os.tmpdir(), `thaw-bench-keras-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(configs.map((c) => ({ ...c, params: networkOf(c).params, warmup, steps }))));
  const script = path.join(REPO_ROOT, 'bench', 'training_keras.py');
  const { stdout } = await execFileAsync(pythonPath(), [script, ...(countOnly ? ['--count'] : []), file], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' }, maxBuffer: 1 << 24,
  });
  rmSync(file, { force: true });
  const rows = JSON.parse(stdout.trim().split('\n').pop()!) as KerasRow[];
  return new Map(rows.map((r) => [r.name, r]));
}

async function main() {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '10' }, warmup: { type: 'string', default: '3' },
      'cpu-steps': { type: 'string', default: '1' }, 'no-cpu': { type: 'boolean', default: false }, only: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const configs = CONFIGS.filter((c) => !values.only || c.name === values.only);
  if (configs.length === 0) throw new Error(`no configuration ${values.only}; one of ${CONFIGS.map((c) => c.name).join(', ')}`);
  checkSameNetworks(configs, await keras(configs, warmup, steps, true));
  const rows = [];
  for (const cfg of configs) {
    const native = await thawStage(cfg, 'tensorflow', warmup, steps);
    rows.push({ cfg, native, pureJs: null as null | Awaited<ReturnType<typeof thawStage>> });
    console.error(`thaw ${cfg.name}: ${native.stepMs.toFixed(1)} ms/step native`);
  }
  const ref = await keras(configs, warmup, steps);
  checkSameNetworks(configs, ref);
  for (const [name, k] of ref) console.error(`keras ${name}: ${k.graph_ms.toFixed(1)} ms/step graph, ${k.eager_ms.toFixed(1)} eager`);
  // Pure JS last (minutes per step): the smallest configuration of each network, one step.
  if (!values['no-cpu']) {
    for (const row of rows) {
      if (row.cfg !== configs.find((c) => c.network === row.cfg.network)) continue;
      row.pureJs = await thawStage(row.cfg, 'cpu', 0, Number(values['cpu-steps']), false);
      console.error(`thaw ${row.cfg.name}: ${row.pureJs.stepMs.toFixed(0)} ms/step pure JS`);
    }
  }
  const table = rows.map(({ cfg, native, pureJs }) => {
    const k = ref.get(cfg.name)!;
    return {
      config: `${cfg.name} (batch ${cfg.batch})`,
      params: k.trainable_size,
      thaw_native_ms: +native.stepMs.toFixed(1),
      keras_graph_ms: +k.graph_ms.toFixed(1),
      keras_eager_ms: +k.eager_ms.toFixed(1),
      'ratio_vs_graph': +(native.stepMs / k.graph_ms).toFixed(2),
      'ratio_vs_eager': +(native.stepMs / k.eager_ms).toFixed(2),
      thaw_pure_js_ms: pureJs ? +pureJs.stepMs.toFixed(0) : null,
      ckpt_save_ms: +native.saveMs.toFixed(1),
      ckpt_restore_ms: +native.restoreMs.toFixed(1),
      ckpt_fraction_of_stage: +native.checkpointFraction.toFixed(3),
    };
  });
  console.table(table);
  console.log(JSON.stringify({ steps, warmup, saveEvery: SAVE_EVERY, cores: os.cpus().length, load: os.loadavg(), rows: table }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
