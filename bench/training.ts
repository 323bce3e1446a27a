/**
 * Training benchmark: step time of thaw's trainer (native TensorFlow through tfjs-node) against the same architecture
 * in Keras (TensorFlow for Python, tf.function graph and eager), same machine, same run; pure-JS tfjs beside them;
 * and checkpoint save/restore time as a fraction of stage time.
 *
 *   npx tsx bench/training.ts [--steps 10] [--warmup 3] [--cpu-steps 1] [--no-cpu] [--only unet-2d-64]
 *
 * thaw runs each configuration as a real stage (child process, synthetic data, Adam, Dice + cross-entropy,
 * checkpoint every 5 iterations); step time is the median gap between progress events after warm-up. A second stage
 * restores the first one's final checkpoint to time restore.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { BackendName } from '../lib/pipeline/plan';
import { runStage } from '../lib/training';
import type { StageResult } from '../lib/training/types';
import { pythonPath, REPO_ROOT } from '../test/helpers/python';
import { stageRequest } from '../test/helpers/training';

const execFileAsync = promisify(execFile);

interface Config {
  name: string;
  network: 'unet' | 'highres3dnet';
  params: Record<string, unknown>;
  spatial: number[];
  batch: number;
}

const CONFIGS: Config[] = [
  { name: 'unet-2d-64', network: 'unet', params: { base_features: 16, depth: 3 }, spatial: [64, 64], batch: 4 },
  { name: 'unet-2d-128', network: 'unet', params: { base_features: 16, depth: 3 }, spatial: [128, 128], batch: 4 },
  { name: 'highres3dnet-16', network: 'highres3dnet', params: {}, spatial: [16, 16, 16], batch: 1 },
  { name: 'highres3dnet-24', network: 'highres3dnet', params: {}, spatial: [24, 24, 24], batch: 1 },
];
const SAVE_EVERY = 5;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

async function thawStage(cfg: Config, backend: BackendName, warmup: number, steps: number, timeRestore = true) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `thaw-bench-${cfg.name}-`));
  const spec = {
    modelDir: dir, network: { name: cfg.network, params: { ...cfg.params, dims: cfg.spatial.length } }, size: cfg.spatial,
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

async function keras(configs: Config[], warmup: number, steps: number): Promise<Map<string, { graph_ms: number; eager_ms: number }>> {
  const file = path.join(os.tmpdir(), `thaw-bench-keras-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(configs.map((c) => ({ ...c, warmup, steps }))));
  const { stdout } = await execFileAsync(pythonPath(), [path.join(REPO_ROOT, 'bench', 'training_keras.py'), file], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' }, maxBuffer: 1 << 24,
  });
  rmSync(file, { force: true });
  const rows = JSON.parse(stdout.trim().split('\n').pop()!) as { name: string; graph_ms: number; eager_ms: number }[];
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
  const rows = [];
  for (const cfg of configs) {
    const native = await thawStage(cfg, 'tensorflow', warmup, steps);
    rows.push({ cfg, native, pureJs: null as null | Awaited<ReturnType<typeof thawStage>> });
    console.error(`thaw ${cfg.name}: ${native.stepMs.toFixed(1)} ms/step native`);
  }
  const ref = await keras(configs, warmup, steps);
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
