/**
 * Engine-agnostic preparation of a stage: which variables exist (network + optimiser state), which are trained and
 * which layers are frozen, where to resume from, and every variable's starting value (restored or initialised).
 */
import { CheckpointReader, latestValidCheckpoint, readSidecar, type CheckpointWriter, type Tensor } from '../checkpoint';
import type { DataSource } from '../data';
import type { UserError, UserErrorDetails } from '../errors';
import { DataNetworkMismatchError, InvalidSelectionError, MissingVariableError, NothingToTrainError, ShapeMismatchError } from './errors';
import { getNetwork, type CommonParams, type NetworkDefinition } from './networks';
import type { VariableSpec } from './networks/variable-spec';
import { optimizerVariables } from './optimizers/slot-names';
import { initialValue } from './init';
import type { OptimizerName } from '../pipeline/plan';
import { storagesOf, type StoragesOption } from '../storage';
import type { StageRunRequest, StageSidecar } from './types';

export interface StageGraph {
  net: NetworkDefinition;
  params: CommonParams & Record<string, unknown>;
  /** Network variables, then optimiser state (slots, powers). */
  variables: VariableSpec[];
  trained: VariableSpec[];
  frozen: string[];
  /**
   * Layers all of whose trainable variables are frozen. A batch norm among them (beta and gamma frozen) normalises
   * with its moving statistics and keeps them fixed, unless the stage asks for NiftyNet's behaviour.
   */
  frozenLayers: Set<string>;
}

/** `kind`: one of the stage errors of ./errors. */
function stageError(req: StageRunRequest, kind: new (message: string, details: UserErrorDetails) => UserError, message: string, field: string, fix: string): UserError {
  return new kind(`stage ${req.stage}: ${message}`, { field, fix });
}

/** Checks that the data fits the network (channels, classes, dimensionality, the network's size constraints). */
function checkDataFitsNetwork(req: StageRunRequest, graph: Pick<StageGraph, 'net' | 'params'>, data: DataSource): void {
  const { net, params } = graph;
  const mismatch = (what: string, field: string, fix: string) => stageError(req, DataNetworkMismatchError, what, field, fix);
  if (data.channels !== params.in_channels) {
    throw mismatch(`the data has ${data.channels} channel(s) but network ${net.name} expects in_channels ${params.in_channels}`,
      'network.params.in_channels', `set network.params.in_channels: ${data.channels}`);
  }
  if (data.numClasses !== params.num_classes) {
    throw mismatch(`the data has ${data.numClasses} classes but network ${net.name} has num_classes ${params.num_classes}`,
      'network.params.num_classes', `set network.params.num_classes: ${data.numClasses}`);
  }
  if (data.spatialSize.length !== params.dims) {
    throw mismatch(`the data is ${data.spatialSize.length}-D but network ${net.name} is ${params.dims}-D`,
      'network.params.dims', `set network.params.dims: ${data.spatialSize.length}`);
  }
  const problem = net.inputSizeProblem(params, data.spatialSize);
  if (problem) {
    throw mismatch(`spatial_size [${data.spatialSize.join(', ')}] does not fit: ${problem}`, 'data.spatial_size',
      `choose a spatial_size that ${net.name} takes`);
  }
}

export function buildStageGraph(req: StageRunRequest, data: DataSource): StageGraph {
  const net = getNetwork(req.network.name, { baseDir: req.baseDir });
  const params = net.resolveParams(req.network.params ?? {});
  checkDataFitsNetwork(req, { net, params }, data);
  const netVars = net.variables(params);
  const byName = new Map(netVars.map((v) => [v.name, v]));
  const trainedNames = new Set(req.selection.trained);
  for (const name of trainedNames) {
    const spec = byName.get(name);
    if (!spec || !spec.trainable) {
      throw stageError(req, InvalidSelectionError, `"${name}" is not a trainable variable of network ${net.name}`,
        'vars_to_freeze', 'check the stage\'s selection with `thaw check`');
    }
  }
  const trained = netVars.filter((v) => trainedNames.has(v.name));
  if (trained.length === 0) {
    throw stageError(req, NothingToTrainError, 'every trainable variable is frozen', 'vars_to_freeze',
      'freeze fewer variables (vars_to_freeze) so that the stage trains something');
  }
  return { net, params, ...trainingGraph(netVars, trainedNames, req.settings.optimizer) };
}

/** The graph of a stage that trains `trainedNames` of `netVars`: frozen variables and layers, optimiser state. */
export function trainingGraph(netVars: VariableSpec[], trainedNames: ReadonlySet<string>, optimizer: OptimizerName) {
  const trained = netVars.filter((v) => trainedNames.has(v.name));
  const frozen = netVars.filter((v) => v.trainable && !trainedNames.has(v.name)).map((v) => v.name);
  const layersWithTrained = new Set(trained.map((v) => v.layer));
  const frozenLayers = new Set(netVars.filter((v) => v.trainable && !layersWithTrained.has(v.layer)).map((v) => v.layer));
  return { trained, frozen, frozenLayers, variables: [...netVars, ...optimizerVariables(optimizer, trained)] };
}

export interface ResumePoint {
  iteration: number;
  prefix: string;
  sidecar: StageSidecar;
}

/** The sidecar's pipeline hash, when it is a thaw stage's. */
function pipelineOf(sidecar: unknown): string | null {
  const hash = (sidecar as Partial<StageSidecar> | null)?.pipelineHash;
  return typeof hash === 'string' ? hash : null;
}

/** True when a checkpoint's sidecar says this stage of this pipeline wrote it: in any attempt of this run. */
export function isOwnCheckpoint(req: Pick<StageRunRequest, 'stage' | 'pipelineHash'>, sidecar: unknown): boolean {
  return pipelineOf(sidecar) === req.pipelineHash && (sidecar as StageSidecar).stage === req.stage;
}

/**
 * Who writes the stage's checkpoints (lib/checkpoint's "never overwrite what this run did not write"): the stage
 * replaces only its own checkpoints (a torn or corrupt one, a rewrite on resume); retention deletes only checkpoints
 * of the same pipeline (never NiftyNet's, nor another pipeline's that share the folder).
 */
export function stageWriter(req: Pick<StageRunRequest, 'stage' | 'pipelineHash'>): CheckpointWriter {
  return {
    description: `stage "${req.stage}" of pipeline ${req.pipelineHash.slice(0, 12)}`,
    owns: (sidecar) => isOwnCheckpoint(req, sidecar),
    mayDelete: (sidecar) => pipelineOf(sidecar) === req.pipelineHash,
  };
}

/** The newest valid checkpoint in modelDir written by this stage of this pipeline, within the stage's range. */
export async function findResumePoint(req: StageRunRequest, options: StoragesOption = {}): Promise<ResumePoint | null> {
  let found: StageSidecar | null = null;
  const storages = storagesOf(options);
  const latest = await latestValidCheckpoint(req.modelDir, {
    storages,
    maxIteration: req.endIteration,
    newestComplete: true,
    accept: async (prefix, iteration) => {
      if (iteration < req.startIteration) return false;
      const sidecar = (await readSidecar(prefix, { storages })) as StageSidecar | null;
      const mine = isOwnCheckpoint(req, sidecar);
      if (mine) found = sidecar;
      return mine;
    },
  });
  return latest && found ? { ...latest, sidecar: found } : null;
}

export interface StartValues {
  /** Every graph variable's starting value. */
  values: Map<string, Float32Array>;
  /**
   * Variables of the starting checkpoint that are not in the stage's graph (optimiser slots of frozen variables,
   * counters, anything else the checkpoint holds): written unchanged into every checkpoint of the stage, so that a
   * checkpoint thaw writes keeps all a NiftyNet checkpoint carried.
   */
  carried: Map<string, Tensor>;
}

/**
 * Every float variable's starting value: from the resume checkpoint (everything), else per the selection from
 * `restoreFrom` (restored) or initialised. Missing or mis-shaped restored variables are UserErrors naming them.
 */
export async function loadStartValues(
  req: StageRunRequest, graph: StageGraph, resume: ResumePoint | null, options: StoragesOption = {},
): Promise<StartValues> {
  const source = resume?.prefix ?? req.restoreFrom;
  const restored = new Set(resume ? graph.variables.map((v) => v.name) : req.selection.restored);
  if (!source && req.selection.restored.length > 0) {
    throw stageError(req, InvalidSelectionError, 'the selection restores variables but there is no checkpoint to restore from',
      'vars_to_restore', 'set starting_iter to a checkpoint, or restore nothing');
  }
  const values = new Map<string, Float32Array>();
  const carried = new Map<string, Tensor>();
  const reader = source ? await CheckpointReader.open(source, options) : null;
  try {
    for (const spec of graph.variables) {
      if (reader && restored.has(spec.name)) {
        values.set(spec.name, await readFloat(req, reader, spec));
      } else {
        values.set(spec.name, initialValue(spec, req.seed, req.settings));
      }
    }
    const inGraph = new Set(graph.variables.map((v) => v.name));
    for (const info of reader?.variables() ?? []) {
      if (!inGraph.has(info.name)) carried.set(info.name, await reader!.read(info.name));
    }
  } finally {
    await reader?.close();
  }
  return { values, carried };
}

async function readFloat(req: StageRunRequest, reader: CheckpointReader, spec: VariableSpec): Promise<Float32Array> {
  if (!reader.has(spec.name)) {
    throw stageError(req, MissingVariableError, `variable ${spec.name} is not in checkpoint ${reader.prefix}`, 'vars_to_restore',
      'exclude it from vars_to_restore (it is then initialised), or restore from a checkpoint that has it');
  }
  const t = await reader.read(spec.name);
  const same = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]);
  if (t.dtype !== 'float32' || !same) {
    throw stageError(req, ShapeMismatchError,
      `variable ${spec.name} is ${t.dtype}[${t.shape.join(', ')}] in ${reader.prefix} but float32[${spec.shape.join(', ')}] in the network`,
      'vars_to_restore', 'exclude it from vars_to_restore, or change network.params to match the checkpoint');
  }
  return t.data as Float32Array;
}
