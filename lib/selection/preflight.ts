/**
 * Preflight: every stage's selection and checks, before any training. Walks the stage DAG in order; a root stage
 * starts from the pipeline's starting checkpoint (or from scratch), a later stage from its parent's final checkpoint,
 * whose variables are the parent's graph plus what the parent carried over unchanged from its own start (the slots
 * of variables it froze, anything else that checkpoint held). The report is plain JSON (the result of a Temporal
 * activity).
 */
import path from 'node:path';
import { listVariables, resolveStartingCheckpoint, type StartingCheckpoint } from '../checkpoint';
import { makeDataSource } from '../data';
import { findNiftiCases } from '../data/nifti-cases';
import { isUserError } from '../errors';
import { joinDir } from '../pipeline/folders';
import type { PipelineLocator } from '../pipeline/load';
import { localModelDirProblem } from '../pipeline/model-dir';
import type { DataConfig, NetworkConfig, Plan, StagePlan } from '../pipeline/plan';
import { isS3, storagesOf, type Storages, type StoragesOption } from '../storage';
import { getNetwork } from '../training/networks';
import type { VariableSpec } from '../training/networks/variable-spec';
import { checkStage, type StageSource } from './checks';
import { listNames, problem, type Problem } from './problems';
import { selectVariables, type CheckpointVariable, type StageSelection, type VariableFate } from './select';

export interface StageReport {
  name: string;
  after: string | null;
  startIteration: number;
  endIteration: number;
  /** Checkpoint prefix the stage restores from (a child's is its parent's final checkpoint), null from scratch. */
  restoreFrom: string | null;
  selection: StageSelection;
  variables: VariableFate[];
  /** Variables of the starting checkpoint outside the stage's graph: written into its checkpoints unchanged. */
  carried: string[];
}

export interface PreflightReport {
  ok: boolean;
  errors: Problem[];
  warnings: Problem[];
  stages: StageReport[];
}

export interface PreflightDeps {
  /** The network's variables (default: the network registry). */
  networkVariables(network: NetworkConfig, plan: Plan): VariableSpec[];
  /** The starting checkpoint; its `notes` (how -1 found it, e.g. passing over a missing one) become warnings. */
  resolveStartingCheckpoint(modelDir: string, startingIter: number): Promise<StartingCheckpoint | null>;
  listVariables(prefix: string): Promise<CheckpointVariable[]>;
  /**
   * Why checkpoints cannot be written to model_dir, or null: on s3:// the storage check (credentials, bucket, write),
   * locally a file, a device, /proc, a read-only or foreign folder. Errors that are not the user's (network) are thrown.
   */
  modelDirProblem(modelDir: string): Promise<{ message: string; fix: string } | null>;
  /** Why a stage's data does not fit the network or cannot be found, or null (the network is known to load). */
  dataProblem(network: NetworkConfig, data: DataConfig, plan: Plan): DataProblem | null;
  /** Where a field is in the pipeline file (`thaw check` has it from the loader): problems then say line:column. */
  locate?: PipelineLocator;
}

export interface DataProblem {
  /** Below the stage's data, e.g. `data.spatial_size` or `network.params.dims`. */
  field: string;
  message: string;
  fix: string;
}

async function modelDirProblem(modelDir: string, storages: Storages): Promise<{ message: string; fix: string } | null> {
  if (!isS3(modelDir)) return localModelDirProblem(modelDir);
  try {
    await storages.check(modelDir);
    return null;
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { message: err.message, fix: err.details.fix ?? 'check the storage settings' };
  }
}

/** What the training activity checks when it builds the stage's data and graph (lib/training/stage-setup.ts), without loading any data. */
function dataProblem(network: NetworkConfig, data: DataConfig, plan: Plan): DataProblem | null {
  const baseDir = path.dirname(plan.source_file);
  const net = getNetwork(network.name, { baseDir });
  const params = net.resolveParams(network.params ?? {});
  const size = data.spatial_size;
  const sizeText = `[${size.join(', ')}]`;
  if (size.length !== params.dims) {
    return {
      field: 'data.spatial_size',
      message: `the data is ${size.length}-D (spatial_size ${sizeText}) but network ${net.name} is ${params.dims}-D`,
      fix: `give spatial_size ${params.dims} sizes, or set network.params.dims: ${size.length} if the network has that many`,
    };
  }
  const sizeProblem = net.inputSizeProblem(params, size);
  if (sizeProblem) {
    return { field: 'data.spatial_size', message: `spatial_size ${sizeText} does not fit network ${net.name}: ${sizeProblem}`, fix: `choose a spatial_size that ${net.name} takes` };
  }
  try {
    if (data.kind === 'nifti') {
      findNiftiCases(data, baseDir);
      return null;
    }
    const source = makeDataSource(data, { seed: plan.seed, baseDir });
    if (source.channels !== params.in_channels) {
      return { field: 'network.params.in_channels', message: `the data has ${source.channels} channel(s) but network ${net.name} expects in_channels ${params.in_channels}`, fix: `set network.params.in_channels: ${source.channels}` };
    }
    if (source.numClasses !== params.num_classes) {
      return { field: 'network.params.num_classes', message: `the data has ${source.numClasses} classes but network ${net.name} has num_classes ${params.num_classes}`, fix: `set network.params.num_classes: ${source.numClasses}` };
    }
    return null;
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { field: err.details.field ?? 'data', message: err.message, fix: err.details.fix ?? 'fix the data settings' };
  }
}

/** The real dependencies, on `storages`. */
function defaultDeps(storages: Storages): PreflightDeps {
  return {
    networkVariables: (network, plan) =>
      getNetwork(network.name, { baseDir: path.dirname(plan.source_file) }).variables(network.params ?? {}),
    resolveStartingCheckpoint: (modelDir, startingIter) => resolveStartingCheckpoint(modelDir, startingIter, { storages }),
    listVariables: (prefix) => listVariables(prefix, { storages }),
    modelDirProblem: (modelDir) => modelDirProblem(modelDir, storages),
    dataProblem,
  };
}

/** A user error (bad network, missing checkpoint) as a pipeline-level problem; anything else is rethrown. */
function userProblem(err: unknown, file: string, code: string, field: string): Problem {
  if (!isUserError(err)) throw err;
  const fix = err.details.fix ?? 'see the message';
  // Checkpoint messages start with the field already ("starting_iter 7: ..."); network ones do not.
  const text = err.message.startsWith(field.split('.')[0]) ? err.message : `${field}: ${err.message}`;
  return { ...problem({ code, file, stage: undefined, field, text: err.message, fix }), message: `${file}: ${text}\n  Fix: ${fix}` };
}

interface Start {
  iteration: number;
  prefix: string | null;
  variables: CheckpointVariable[] | null;
  /** Why there is no starting checkpoint (when prefix is null). */
  scratchReason: string;
  /** The starting checkpoint was wanted but is missing or unreadable (already an error). */
  failed: boolean;
}

async function startingPoint(plan: Plan, deps: PreflightDeps, errors: Problem[], warnings: Problem[]): Promise<Start> {
  const file = plan.source_file;
  let resolved: StartingCheckpoint | null;
  try {
    resolved = await deps.resolveStartingCheckpoint(plan.model_dir, plan.starting_iter);
  } catch (err) {
    errors.push(userProblem(err, file, 'StartingCheckpoint', 'starting_iter'));
    return { iteration: 0, prefix: null, variables: null, scratchReason: 'its starting checkpoint is missing', failed: true };
  }
  for (const note of resolved?.notes ?? []) {
    warnings.push(problem({
      code: 'StartingCheckpointFallback', file, field: 'starting_iter', text: `${plan.starting_iter}: ${note}`,
      fix: `nothing, if iteration ${resolved!.iteration} is where to start; otherwise set starting_iter to the iteration to start from`,
    }));
  }
  if (!resolved) {
    const reason = plan.starting_iter === 0 ? 'starting_iter: 0' : `starting_iter: -1 and ${plan.model_dir} holds no valid checkpoint yet`;
    return { iteration: 0, prefix: null, variables: null, scratchReason: reason, failed: false };
  }
  try {
    const { iteration, prefix } = resolved;
    return { iteration, prefix, variables: await deps.listVariables(prefix), scratchReason: '', failed: false };
  } catch (err) {
    errors.push(userProblem(err, file, 'StartingCheckpoint', 'starting_iter'));
    return { iteration: resolved.iteration, prefix: null, variables: null, scratchReason: 'its starting checkpoint cannot be read', failed: true };
  }
}

interface Finished {
  report: StageReport;
  /** The variables of the stage's checkpoints: its graph, and what it carries over from its start. */
  written: CheckpointVariable[];
  folder: string;
  data: StagePlan['data'];
  trained: Map<string, string>;
}

/** The preflight of a whole plan: what the preflight activity and `thaw check` run; `storages` serve the default deps. */
export async function checkPlan(plan: Plan, options: Partial<PreflightDeps> & StoragesOption = {}): Promise<PreflightReport> {
  const { storages, ...deps } = options;
  const d: PreflightDeps = { ...defaultDeps(storagesOf({ storages })), ...deps };
  const report = await checkPlanWith(plan, d);
  if (!d.locate) return report;
  const at = (p: Problem) => locateProblem(p, plan.source_file, d.locate!);
  return { ...report, errors: report.errors.map(at), warnings: report.warnings.map(at) };
}

/** The problem with the line:column of its field, and the field numbered as in the file. */
function locateProblem(p: Problem, file: string, locate: PipelineLocator): Problem {
  const loc = locate(p.field);
  if (!loc) return p;
  const prefix = `${file}: `;
  let message = p.message;
  if (message.startsWith(prefix)) {
    let rest = message.slice(prefix.length);
    if (loc.field !== p.field) rest = rest.replace(p.field, loc.field);
    message = `${file}:${loc.line}:${loc.column}: ${rest}`;
  }
  return { ...p, field: loc.field, line: loc.line, column: loc.column, message };
}

async function checkPlanWith(plan: Plan, d: PreflightDeps): Promise<PreflightReport> {
  const file = plan.source_file;
  const errors: Problem[] = [];
  const warnings: Problem[] = [];

  const dirProblem = await d.modelDirProblem(plan.model_dir);
  if (dirProblem) {
    errors.push(problem({ code: 'ModelDir', file, field: 'model_dir', text: dirProblem.message, fix: dirProblem.fix }));
  }
  let network: VariableSpec[];
  try {
    network = d.networkVariables(plan.network, plan);
  } catch (err) {
    errors.push(userProblem(err, file, 'Network', (err as { details?: { field?: string } }).details?.field ?? 'network'));
    return { ok: false, errors, warnings, stages: [] };
  }
  errors.push(...checkData(plan, d));
  const start: Start = dirProblem
    ? { iteration: 0, prefix: null, variables: null, scratchReason: 'model_dir cannot be used', failed: true }
    : await startingPoint(plan, d, errors, warnings);

  const done = new Map<string, Finished>();
  const stages: StageReport[] = [];
  plan.stages.forEach((stage, stageIndex) => {
    const parent = stage.after === null ? null : done.get(stage.after);
    if (stage.after !== null && !parent) throw new Error(`stage ${stage.name} comes before its parent ${stage.after}`);
    const source: StageSource = parent
      ? { kind: 'parent', stage: parent.report.name, prefix: finalPrefix(parent), data: parent.data }
      : start.prefix !== null
        ? { kind: 'checkpoint', prefix: start.prefix }
        : { kind: 'scratch', reason: start.scratchReason, startFailed: start.failed };
    const checkpoint = parent ? parent.written : start.variables;
    const result = selectVariables({
      stage,
      stageIndex,
      network,
      isRoot: parent === undefined || parent === null,
      checkpoint,
      file,
    });
    const earlierTrained = parent ? parent.trained : new Map<string, string>();
    const found = checkStage({ file, stage, stageIndex, network, checkpoint, source, earlierTrained }, result);
    errors.push(...found.errors);
    warnings.push(...found.warnings);

    const graphNames = new Set(result.graph.map((v) => v.name));
    const carried = (checkpoint ?? []).filter((v) => !graphNames.has(v.name));
    const startIteration = parent ? parent.report.endIteration : start.iteration;
    const report: StageReport = {
      name: stage.name,
      after: stage.after,
      startIteration,
      endIteration: startIteration + stage.iterations,
      restoreFrom: source.kind === 'scratch' ? null : source.prefix,
      selection: result.selection,
      variables: result.variables,
      carried: carried.map((v) => v.name),
    };
    stages.push(report);
    const trained = new Map(earlierTrained);
    for (const name of result.selection.trained) trained.set(name, stage.name);
    done.set(stage.name, {
      report,
      written: [...result.graph.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })), ...carried],
      folder: stage.checkpoint_dir,
      data: stage.data,
      trained,
    });
  });
  return { ok: errors.length === 0, errors, warnings, stages };
}

/** Each distinct data config once (stages usually share the pipeline's), reported at the first stage that uses it. */
function checkData(plan: Plan, d: PreflightDeps): Problem[] {
  const byConfig = new Map<string, Array<{ stage: StagePlan; index: number }>>();
  plan.stages.forEach((stage, index) => {
    const key = JSON.stringify(stage.data);
    const list = byConfig.get(key);
    if (list) list.push({ stage, index });
    else byConfig.set(key, [{ stage, index }]);
  });
  const out: Problem[] = [];
  for (const users of byConfig.values()) {
    const [{ stage, index }] = users;
    let found: DataProblem | null;
    try {
      found = d.dataProblem(plan.network, stage.data, plan);
    } catch (err) {
      out.push(userProblem(err, plan.source_file, 'DataNetworkMismatch', 'network'));
      break;
    }
    if (!found) continue;
    const others = users.slice(1).map((u) => u.stage.name);
    const also = others.length > 0 ? ` (also the data of ${others.length === 1 ? 'stage' : 'stages'} ${listNames(others, 3)})` : '';
    const field = found.field.startsWith('data') ? `stages[${index}].${found.field}` : found.field;
    const code = found.field.startsWith('network') || found.field === 'data.spatial_size' ? 'DataNetworkMismatch' : 'DataError';
    out.push(problem({ code, file: plan.source_file, stage: stage.name, field, text: `${found.message}${also}`, fix: found.fix }));
  }
  return out;
}

/** Where a finished stage's final checkpoint will be (model_dir/models/model.ckpt-N, as lib/checkpoint names it). */
function finalPrefix(stage: Finished): string {
  return joinDir(stage.folder, 'models', `model.ckpt-${stage.report.endIteration}`);
}
