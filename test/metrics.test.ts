/**
 * Metrics: JSON-lines loss logs that stay duplicate-free across a resume (even after a torn last line), TensorBoard
 * event files read back by TensorFlow and TensorBoard (values, steps, CRCs, and TensorBoard's purge of re-trained
 * steps), and the loss-curve SVG parsed as XML with one series per stage.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventDir, lossCurveFile, lossLogFile, openMetricsLog, readLossLog, renderLossCurveSvg, writeLossCurve } from '../lib/metrics';
import { runPython } from './helpers/python';

interface EventRecord {
  step: number;
  what: string;
  file_version?: string;
  values?: Record<string, number | string>;
  status?: string;
}
interface ReadBack {
  events: Record<string, EventRecord[]>;
  tensorboard: Record<string, Record<string, [number, number | string][]>>;
  tensorboard_plugin: Record<string, Record<string, [number, number | string][]>>;
  svg: Record<string, { root: string; series: string[]; dashed_lines: number; polylines: number }>;
}

const f32 = (x: number) => Math.fround(x);
const pretrainLoss = (i: number) => 1 / (i + 1);
const firstRunLoss = (i: number) => 0.5 - i / 100;
const resumedLoss = (i: number) => 0.25 - i / 200;
const itPerSec = (i: number) => 10 + i;

let dir: string;
let modelDir: string;
let readBack: ReadBack;
const hostileName = 'a<b & "c"';

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-metrics-'));
  modelDir = path.join(dir, 'model');
  // Stage 1: iterations 0..9, one NaN loss.
  const pretrain = openMetricsLog(modelDir, 'pretrain', 0);
  for (let i = 0; i < 10; i++) pretrain.log(i, i === 5 ? NaN : pretrainLoss(i), itPerSec(i));
  pretrain.close();
  // Stage 2 runs 10..16, "crashes" leaving a torn line, and resumes from a checkpoint at 14.
  const crashed = openMetricsLog(modelDir, 'finetune', 10);
  for (let i = 10; i <= 16; i++) crashed.log(i, firstRunLoss(i), itPerSec(i));
  crashed.flush();
  crashed.close();
  appendFileSync(lossLogFile(modelDir, 'finetune'), '{"stage":"finetune","iterat');
  const [crashedEvents] = readdirSync(eventDir(modelDir, 'finetune'));
  appendFileSync(path.join(eventDir(modelDir, 'finetune'), crashedEvents), Buffer.from([40, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
  const resumed = openMetricsLog(modelDir, 'finetune', 14);
  for (let i = 14; i < 20; i++) resumed.log(i, resumedLoss(i), itPerSec(i));
  resumed.close();

  writeLossCurve(modelDir, ['pretrain', 'finetune']);
  const extra = path.join(dir, 'log-scale.svg');
  writeFileSync(extra, renderLossCurveSvg([{ stage: hostileName, points: [[0, 2], [1, 0.5], [2, 0]] }, { stage: 'empty', points: [] }], { logScale: true, title: '<&>' }));
  readBack = JSON.parse(await runPython('metrics_read_back.py', [modelDir, lossCurveFile(modelDir), extra])) as ReadBack;
});
after(() => rmSync(dir, { recursive: true, force: true }));

const expectedFinetune = () => Array.from({ length: 10 }, (_, k) => 10 + k).map((i) => [i, i < 14 ? firstRunLoss(i) : resumedLoss(i)]);

describe('loss log (JSON lines)', () => {
  test('a resume truncates re-trained iterations and the torn line: every iteration once, newest values', () => {
    const lines = readFileSync(lossLogFile(modelDir, 'finetune'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((e) => e.iteration), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    for (const e of lines) {
      assert.deepEqual(Object.keys(e).sort(), ['itPerSec', 'iteration', 'loss', 'stage', 'time']);
      assert.equal(e.stage, 'finetune');
      assert.equal(e.itPerSec, itPerSec(e.iteration));
      assert.ok(Math.abs(e.time - Date.now() / 1000) < 600);
    }
  });

  test('readLossLog: one series per stage in iteration order, non-finite losses left out', () => {
    const series = readLossLog(modelDir);
    assert.deepEqual(series.map((s) => s.stage), ['pretrain', 'finetune']);
    assert.deepEqual(series[0].points, [0, 1, 2, 3, 4, 6, 7, 8, 9].map((i) => [i, pretrainLoss(i)]));
    assert.deepEqual(series[1].points, expectedFinetune());
    assert.deepEqual(readLossLog(path.join(dir, 'no-such-model')), []);
  });
});

describe('TensorBoard event files', () => {
  test('TensorFlow reads file_version first, then loss and it_per_sec at every step (CRCs checked)', () => {
    const files = Object.keys(readBack.events);
    assert.equal(files.filter((f) => f.startsWith(path.join('logs', 'pretrain'))).length, 1);
    assert.equal(files.filter((f) => f.startsWith(path.join('logs', 'finetune'))).length, 2, 'the resume starts a new file');
    for (const f of files) {
      assert.match(path.basename(f), /^events\.out\.tfevents\.\d+\.[A-Za-z0-9._-]+$/);
      assert.deepEqual([readBack.events[f][0].what, readBack.events[f][0].file_version], ['file_version', 'brain.Event:2']);
    }
    const pretrain = readBack.events[files.find((f) => f.includes('pretrain'))!];
    assert.deepEqual([pretrain[1].what, pretrain[1].status, pretrain[1].step], ['session_log', 'START', 0]);
    assert.deepEqual(pretrain.slice(2).map((e) => e.step), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const e of pretrain.slice(2)) {
      assert.equal(e.what, 'summary');
      assert.equal(e.values!.it_per_sec, f32(itPerSec(e.step)));
      if (e.step === 5) assert.equal(e.values!.loss, 'nan');
      else assert.equal(e.values!.loss, f32(pretrainLoss(e.step)));
    }
  });

  test('a resume rewrites the earlier file without the re-trained steps or the torn record, and starts a new one', () => {
    const [first, second] = Object.keys(readBack.events).filter((f) => f.includes('finetune')).sort();
    const steps = (f: string) => readBack.events[f].filter((e) => e.what === 'summary').map((e) => e.step);
    assert.deepEqual(steps(first), [10, 11, 12, 13]);
    assert.deepEqual(steps(second), [14, 15, 16, 17, 18, 19]);
    assert.deepEqual([readBack.events[second][1].what, readBack.events[second][1].status, readBack.events[second][1].step], ['session_log', 'START', 14]);
    for (const [i, e] of readBack.events[second].slice(2).entries()) assert.equal(e.values!.loss, f32(resumedLoss(14 + i)));
  });

  test('TensorBoard (both accumulators) shows each step once, with the resumed run\'s values', () => {
    for (const tb of [readBack.tensorboard, readBack.tensorboard_plugin]) {
      assert.deepEqual(Object.keys(tb).sort(), ['finetune', 'pretrain']);
      assert.deepEqual(tb.finetune.loss, expectedFinetune().map(([i, l]) => [i, f32(l)]));
      assert.deepEqual(tb.finetune.it_per_sec.map(([s]) => s), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      assert.deepEqual(tb.pretrain.loss.map(([s]) => s), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });
});

describe('loss curve', () => {
  test('model_dir/loss.svg is well-formed XML with one series per stage and a boundary where finetune starts', () => {
    assert.ok(existsSync(lossCurveFile(modelDir)));
    const svg = readBack.svg[lossCurveFile(modelDir)];
    assert.equal(svg.root, '{http://www.w3.org/2000/svg}svg');
    assert.deepEqual(svg.series, ['pretrain', 'finetune']);
    assert.equal(svg.dashed_lines, 1);
    assert.ok(svg.polylines >= 2);
  });

  test('log scale, names that need escaping, and empty series still give valid XML', () => {
    const svg = readBack.svg[path.join(dir, 'log-scale.svg')];
    assert.deepEqual(svg.series, [hostileName, 'empty']);
    assert.equal(svg.polylines, 1, 'the zero loss is left out on a log axis, the empty series draws nothing');
  });

  test('stage order decides colours and series order', () => {
    const svg = renderLossCurveSvg(readLossLog(modelDir).reverse());
    assert.ok(svg.indexOf('data-stage="finetune"') < svg.indexOf('data-stage="pretrain"'));
    assert.match(svg, /<polyline fill="none" stroke="#1f77b4"[^>]*points="[^"]+"/);
  });
});
