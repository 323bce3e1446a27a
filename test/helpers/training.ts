/** Builders for training tests: a stage request for a tiny network on a synthetic task, with the full selection. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendName, TrainingSettings } from '../../lib/pipeline/plan';
import { getNetwork } from '../../lib/training/networks';
import { optimizerVariables } from '../../lib/training/optimizers/slot-names';
import type { StageRunRequest } from '../../lib/training/types';

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `thaw-${tag}-`));
}

export const SETTINGS: TrainingSettings = {
  optimizer: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, momentum: 0.9,
  batch_size: 2, save_every_n: 2, max_checkpoints: 0, loss_type: 'DicePlusXEnt', frozen_batch_norm: 'moving',
};

export interface StageSpec {
  modelDir: string;
  stage?: string;
  network?: { name: string; params: Record<string, unknown> };
  task?: string;
  size?: number[];
  start?: number;
  end: number;
  restoreFrom?: string | null;
  /** Trainable variables NOT trained (matched by this regex). */
  freeze?: RegExp;
  settings?: Partial<TrainingSettings>;
  backend?: BackendName;
  seed?: number;
}

export const TOYNET = { name: 'toynet', params: { hidden_features: 4 } };

/** A stage request whose selection restores every network variable (and the slots of trained ones) when restoring. */
export function stageRequest(s: StageSpec): StageRunRequest {
  const network = s.network ?? TOYNET;
  const settings = { ...SETTINGS, ...s.settings };
  const vars = getNetwork(network.name).variables(network.params);
  const trainable = vars.filter((v) => v.trainable);
  const trained = trainable.filter((v) => !s.freeze?.test(v.name));
  const frozen = trainable.filter((v) => s.freeze?.test(v.name)).map((v) => v.name);
  const restored = s.restoreFrom ? vars.map((v) => v.name) : [];
  const all = [...vars, ...optimizerVariables(settings.optimizer, trained)].map((v) => v.name);
  return {
    modelDir: s.modelDir, restoreFrom: s.restoreFrom ?? null, stage: s.stage ?? 'train',
    startIteration: s.start ?? 0, endIteration: s.end,
    selection: {
      restored, initialised: all.filter((n) => !restored.includes(n)), frozen, trained: trained.map((v) => v.name),
      // Optimiser slots a restored checkpoint lacked (this helper restores network variables only).
      slotsInitialised: s.restoreFrom ? all.filter((n) => !vars.some((v) => v.name === n)) : [],
    },
    network, data: { kind: 'synthetic', task: s.task ?? 'A', spatial_size: s.size ?? [16, 16] },
    settings, seed: s.seed ?? 7, backend: s.backend ?? 'auto', pipelineHash: 'test-hash',
  };
}

export const quiet = { onLog: () => {} };
