/**
 * NiftyNet segmentation configs (`.ini`) → one thaw pipeline. One file is one stage; several are a chain in the given
 * order, each stage starting from the one before. Values are read with NiftyNet's own rules (its defaults from
 * niftynet/utilities/user_parameters_default.py where a key is absent, its parsers for tuples and booleans, its
 * freeze rule `vars_to_freeze or vars_to_restore`), and every key thaw cannot carry over is a warning naming the file,
 * the line and the reason: nothing is dropped silently.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expandHome } from '../pipeline/load';
import type { NiftiInputSection, NiftyNetSearch } from '../pipeline/plan';
import { listOf } from '../data/niftynet-search';
import { compilePattern, PatternError } from '../selection/pattern';
import { NiftyNetConfigError } from './errors';
import { readIni, type IniFile, type IniSection, type IniValue } from './ini';

/** A key thaw did not carry over, or a difference from how NiftyNet would have run the files, with where it is. */
export interface ImportNote {
  file: string;
  line: number | null;
  /** `[SECTION] key`, or the section alone. */
  key: string;
  message: string;
}

export interface ImportedPipeline {
  /** The pipeline as plain JSON, in the key order a person reads (name, model_dir, network, data, stages). */
  pipeline: Record<string, unknown>;
  warnings: ImportNote[];
}

export interface ImportOptions {
  /** Pipeline name (default: the first file's name, made a valid stage/folder name). */
  name?: string;
  /**
   * The latest checkpoint iteration in a NiftyNet model folder (`<model_dir>/models`), or null when there is none
   * that can be read: what `starting_iter = -1` resolves to (NiftyNet's infer_latest_model_file).
   */
  latestIteration(modelDir: string): Promise<number | null>;
}

/** NiftyNet's system sections (user_parameters_parser.py SYSTEM_SECTIONS) and the segmentation application's. */
const SYSTEM_SECTIONS = ['SYSTEM', 'NETWORK', 'TRAINING', 'INFERENCE', 'EVALUATION'];
const APPLICATION_SECTION = 'SEGMENTATION';
const OTHER_APPLICATIONS = ['REGRESSION', 'AUTOENCODER', 'GAN', 'CLASSIFICATION', 'REGISTRATION'];

/** NiftyNet's defaults (user_parameters_default.py) for the keys the mapping reads. */
const NIFTYNET_DEFAULTS = {
  optimiser: 'adam', lr: 0.01, loss_type: 'Dice', starting_iter: 0, save_every_n: 500, max_iter: 10000,
  max_checkpoints: 100, batch_size: 2,
};

/** NiftyNet network names whose thaw name differs (application_factory.py SUPPORTED_NETWORK). */
const NETWORK_NAMES: Record<string, string> = { nonewnet: 'no_new_net' };
/** NiftyNet optimisers thaw has (application_factory.py SUPPORTED_OPTIMIZERS; momentum's is 0.9 in both). */
const OPTIMISERS: Record<string, string> = { adam: 'adam', gradientdescent: 'sgd', momentum: 'momentum' };
const LOSS_TYPES = ['CrossEntropy', 'Dice', 'Dice_NS', 'DicePlusXEnt', 'GDSC', 'Tversky', 'SensSpec'];

/** Why a key that thaw reads nowhere has no effect, where there is a better reason than "no equivalent". */
const REASONS: Record<string, string> = {
  cuda_devices: 'thaw workers choose their GPUs (thaw worker --gpus)',
  num_gpus: 'thaw workers choose their GPUs (thaw worker --gpus)',
  num_threads: 'thaw sizes its own thread pools (THAW_INTRA_OP_THREADS)',
  queue_length: 'thaw samples windows in the training process, without a queue',
  tensorboard_every_n: 'thaw writes TensorBoard events every iteration',
  interp_order: 'thaw does not resample: give images on their training grid',
  pixdim: 'thaw does not resample: give images on their training grid',
  axcodes: 'thaw does not reorient: give images in the orientation the network was trained on',
  validation_every_n: 'thaw does not validate during stages yet',
  validation_max_iter: 'thaw does not validate during stages yet',
  exclude_fraction_for_validation: 'thaw does not validate during stages yet; with dataset_split_file only its training rows are used',
  exclude_fraction_for_inference: 'thaw does not validate during stages yet; with dataset_split_file only its training rows are used',
  rotation_angle: 'thaw has no augmentation yet',
  scaling_percentage: 'thaw has no augmentation yet',
  histogram_ref_file: 'thaw has no histogram normalisation',
  norm_type: 'thaw has no histogram normalisation',
  cutoff: 'thaw has no histogram normalisation',
  normalisation: 'thaw has no histogram normalisation',
  foreground_type: 'thaw whitens over the whole volume, not a foreground mask',
  label_normalisation: 'thaw reads label maps as class indices 0..num_classes-1',
  decay: 'thaw has no weight decay',
  output_prob: 'an inference setting (there is no thaw infer yet)',
  sample_per_volume: 'thaw samples one window per case drawn',
  reg_type: 'thaw has no weight decay',
};

interface Source {
  file: string;
  ini: IniFile;
  section(name: string): IniSection | undefined;
  /** Keys the mapping has read, `SECTION\0key`. */
  used: Set<string>;
}

function sourceOf(file: string): Source {
  const ini = readIni(file);
  return { file, ini, section: (name) => ini.sections.find((s) => s.name === name), used: new Set() };
}

function fail(source: Source, at: IniValue | null, key: string, message: string, fix: string): NiftyNetConfigError {
  return new NiftyNetConfigError(`${source.file}:${at?.line ?? 1}: ${key}: ${message}`, { file: source.file, field: key, fix });
}

/** A value the mapping reads (marked as used), or undefined when absent or empty (NiftyNet: empty is unset). */
function take(source: Source, section: string, key: string): IniValue | undefined {
  const value = source.section(section)?.values.get(key);
  if (!value) return undefined;
  source.used.add(`${section}\0${key}`);
  return value.value === '' ? undefined : value;
}

function int(source: Source, section: string, key: string, fallback: number): number {
  const v = take(source, section, key);
  if (!v) return fallback;
  if (!/^[-+]?\d+$/.test(v.value.trim())) throw fail(source, v, `[${section}] ${key}`, `${JSON.stringify(v.value)} is not an integer`, `write a whole number, as NiftyNet's int() reads it`);
  return Number(v.value);
}

function float(source: Source, section: string, key: string, fallback: number): number {
  const v = take(source, section, key);
  if (!v) return fallback;
  const n = Number(v.value.trim());
  if (v.value.trim() === '' || !Number.isFinite(n)) throw fail(source, v, `[${section}] ${key}`, `${JSON.stringify(v.value)} is not a number`, 'write a number such as 0.001 or 1e-4');
  return n;
}

/** NiftyNet's str2boolean. */
function bool(source: Source, section: string, key: string): boolean | undefined {
  const v = take(source, section, key);
  if (!v) return undefined;
  const s = v.value.trim().toLowerCase();
  if (['yes', 'true', 't', 'y', '1'].includes(s)) return true;
  if (['no', 'false', 'f', 'n', '0'].includes(s)) return false;
  throw fail(source, v, `[${section}] ${key}`, `${JSON.stringify(v.value)} is not a boolean`, 'write True or False');
}

/** spatial_window_size as NiftyNet's spatial_atleast3d reads it: 2 numbers become [x, y, 1]. */
function windowSize(source: Source, section: string): { size: number[]; at: IniValue } | undefined {
  const v = take(source, section, 'spatial_window_size');
  if (!v) return undefined;
  const size = listOf(v.value).map(Number);
  if (size.length < 2 || size.length > 3 || !size.every((n) => Number.isInteger(n) && n >= 1)) {
    throw fail(source, v, `[${section}] spatial_window_size`, `${JSON.stringify(v.value)} is not 2 or 3 positive integers`, 'write e.g. (96, 96, 96)');
  }
  return { size: size.length === 2 ? [...size, 1] : size, at: v };
}

/** A regex as NiftyNet compiles it with Python's re; one thaw refuses is an error here, not at run time. */
function pattern(source: Source, key: string): string | undefined {
  const v = take(source, 'TRAINING', key);
  if (!v) return undefined;
  try {
    compilePattern(v.value, { file: source.file, field: `[TRAINING] ${key}` });
  } catch (err) {
    if (!(err instanceof PatternError)) throw err;
    throw fail(source, v, `[TRAINING] ${key}`, err.message, err.details.fix ?? 'write a Python regular expression');
  }
  return v.value;
}

/** A stage name (a folder name too) from a file name: runs of other characters become `_`. */
function safeName(file: string): string {
  const stem = path.basename(file).replace(/\.ini$/i, '').replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return (stem || 'stage').slice(0, 64);
}

/** A path from a config: `~` expanded, relative ones against the config's folder (NiftyNet's resolve_file_name). */
function pathFrom(source: Source, value: string): string {
  return path.resolve(path.dirname(source.file), (expandHome(value) ?? value).replace(/\\/g, '/'));
}

interface StageDraft {
  source: Source;
  stage: Record<string, unknown>;
  modelDir: string;
  startingIter: number;
  maxIter: number;
}

function segmentationSection(source: Source): IniSection {
  const app = source.section(APPLICATION_SECTION);
  if (app) return app;
  const other = source.ini.sections.find((s) => OTHER_APPLICATIONS.includes(s.name.toUpperCase()));
  throw new NiftyNetConfigError(`${source.file}: ${other ? `[${other.name}] is NiftyNet's ${other.name.toLowerCase()} application, ` : ''}there is no [SEGMENTATION] section: thaw trains segmentation networks (net_segment)`, {
    file: source.file, field: '[SEGMENTATION]', fix: 'import a net_segment config (one with a [SEGMENTATION] section: image, label, num_classes)',
  });
}

function networkOf(source: Source, channels: number, warnings: ImportNote[]): Record<string, unknown> {
  const nameAt = take(source, 'NETWORK', 'name');
  if (!nameAt) throw fail(source, null, '[NETWORK] name', 'is missing', 'name the network, e.g. name = highres3dnet');
  const params: Record<string, unknown> = {};
  const acti = take(source, 'NETWORK', 'activation_function');
  if (acti) params.activation_function = acti.value;
  if (channels !== 1) params.in_channels = channels;
  const classes = take(source, APPLICATION_SECTION, 'num_classes');
  if (classes) params.num_classes = int(source, APPLICATION_SECTION, 'num_classes', 2);
  else warnings.push({ file: source.file, line: null, key: '[SEGMENTATION] num_classes', message: 'not given: the network has thaw\'s default of 2 classes' });
  const name = NETWORK_NAMES[nameAt.value] ?? nameAt.value;
  return { name, params };
}

/**
 * Where a section's files are: NiftyNet uses csv_file when that file exists, else searches path_to_search
 * (user_parameters_parser.py drops path_to_search only for a csv_file it finds).
 */
function sectionOf(source: Source, name: string, warnings: ImportNote[]): NiftiInputSection {
  const csv = take(source, name, 'csv_file');
  const search = take(source, name, 'path_to_search');
  const csvFile = csv && pathFrom(source, csv.value);
  if (csvFile && (!search || existsSync(csvFile))) {
    if (search) warnings.push({ file: source.file, line: search.line, key: `[${name}] path_to_search`, message: `not used: csv_file ${csvFile} exists, and NiftyNet then reads it instead of searching` });
    return { csv_file: csvFile };
  }
  if (!search) throw fail(source, null, `[${name}] csv_file`, 'is missing, and so is path_to_search', 'give csv_file (rows of subject_id,path) or path_to_search with filename_contains');
  const section: NiftyNetSearch = { path_to_search: listOf(search.value).map((folder) => pathFrom(source, folder)) };
  for (const key of ['filename_contains', 'filename_not_contains', 'filename_removefromid'] as const) {
    const v = take(source, name, key);
    if (v) section[key] = listOf(v.value);
  }
  if (csv) warnings.push({ file: source.file, line: csv.line, key: `[${name}] csv_file`, message: `${csvFile} does not exist here: NiftyNet would search path_to_search (and write the list there); the pipeline searches the same way` });
  return section;
}

function dataOf(source: Source, warnings: ImportNote[]): { data: Record<string, unknown>; channels: number } {
  const image = take(source, APPLICATION_SECTION, 'image');
  const label = take(source, APPLICATION_SECTION, 'label');
  if (!image || !label) {
    throw fail(source, image ?? label ?? null, `[SEGMENTATION] ${image ? 'label' : 'image'}`, 'is missing', 'name the input sections: image = T1, T2 and label = label');
  }
  const imageSections = listOf(image.value);
  const sections = [...imageSections, label.value.trim()];
  const inputs: Record<string, NiftiInputSection> = {};
  let size: { size: number[]; at: IniValue; section: string } | undefined;
  for (const name of sections) {
    if (!source.section(name)) throw fail(source, image, `[SEGMENTATION] ${name === label.value.trim() ? 'label' : 'image'}`, `names section [${name}], which the file does not have`, `add a [${name}] section with its csv_file, or fix the name`);
    inputs[name] = sectionOf(source, name, warnings);
    const window = windowSize(source, name);
    if (window && !size) size = { ...window, section: name };
    else if (window && size && window.size.join() !== size.size.join()) {
      warnings.push({ file: source.file, line: window.at.line, key: `[${name}] spatial_window_size`, message: `(${window.size.join(', ')}) differs from [${size.section}]'s (${size.size.join(', ')}): thaw crops every section alike, with [${size.section}]'s` });
    }
  }
  for (const s of source.ini.sections) {
    if (!SYSTEM_SECTIONS.includes(s.name) && s.name !== APPLICATION_SECTION && !sections.includes(s.name)) {
      warnings.push({ file: source.file, line: s.line, key: `[${s.name}]`, message: 'an input section that [SEGMENTATION] does not use (not image or label): left out' });
      for (const key of s.values.keys()) source.used.add(`${s.name}\0${key}`);
    }
  }
  if (!size) throw fail(source, null, `[${imageSections[0]}] spatial_window_size`, 'is missing', 'give the training window, e.g. spatial_window_size = (96, 96, 96)');
  const data: Record<string, unknown> = { kind: 'nifti', spatial_size: size.size, inputs, image: imageSections, label: label.value.trim() };
  const split = take(source, 'SYSTEM', 'dataset_split_file');
  const splitFile = split && pathFrom(source, split.value);
  if (splitFile && existsSync(splitFile)) data.dataset_split_file = splitFile;
  else if (split) warnings.push({ file: source.file, line: split.line, key: '[SYSTEM] dataset_split_file', message: `${splitFile} does not exist here: NiftyNet would write a random split by exclude_fraction_for_validation / _inference; the pipeline trains on every subject (give the file to keep NiftyNet's split)` });
  const sampling = take(source, 'NETWORK', 'window_sampling');
  if (sampling) {
    const mode = sampling.value.trim().toLowerCase();
    if (mode === 'weighted' || mode === 'balanced' || mode === 'uniform') {
      if (mode !== 'uniform') data.window_sampling = mode;
    } else warnings.push({ file: source.file, line: sampling.line, key: '[NETWORK] window_sampling', message: `not imported: thaw samples windows uniformly, by weight or balanced, not ${sampling.value}` });
  }
  const sampler = take(source, APPLICATION_SECTION, 'sampler');
  if (sampler && data.window_sampling && sampler.value.trim() !== label.value.trim()) {
    warnings.push({ file: source.file, line: sampler.line, key: '[SEGMENTATION] sampler', message: `[${sampler.value.trim()}]: thaw's ${String(data.window_sampling)} sampling uses the label map ([${label.value.trim()}]) as its sampling map` });
  }
  // NiftyNet: whitening = True is zero mean, unit variance per image; thaw's zscore is that over the whole volume.
  const whitening = bool(source, 'NETWORK', 'whitening');
  data.normalisation = whitening ? 'zscore' : 'none';
  if (bool(source, 'NETWORK', 'normalise_foreground_only')) {
    warnings.push({ file: source.file, line: lineOf(source, 'NETWORK', 'normalise_foreground_only'), key: '[NETWORK] normalise_foreground_only', message: 'thaw whitens over the whole volume, not a foreground mask' });
  }
  return { data, channels: imageSections.length };
}

function stageOf(source: Source, name: string): { stage: Record<string, unknown>; startingIter: number; maxIter: number; modelDir: string } {
  const modelDirAt = take(source, 'SYSTEM', 'model_dir');
  // NiftyNet's default model_dir: a `model` folder beside the config (user_parameters_parser.py).
  const modelDir = modelDirAt ? pathFrom(source, modelDirAt.value) : path.join(path.dirname(source.file), 'model');
  const startingIter = int(source, 'TRAINING', 'starting_iter', NIFTYNET_DEFAULTS.starting_iter);
  if (startingIter < -1) throw fail(source, take(source, 'TRAINING', 'starting_iter')!, '[TRAINING] starting_iter', `${startingIter} is not 0, -1 or an iteration`, 'use 0 (from scratch), -1 (the latest checkpoint) or N');
  const maxIter = int(source, 'TRAINING', 'max_iter', NIFTYNET_DEFAULTS.max_iter);
  const optimiserAt = take(source, 'TRAINING', 'optimiser');
  const optimiser = OPTIMISERS[(optimiserAt?.value ?? NIFTYNET_DEFAULTS.optimiser).trim().toLowerCase()];
  if (!optimiser) throw fail(source, optimiserAt!, '[TRAINING] optimiser', `${optimiserAt!.value} is not an optimiser thaw has`, `use one of ${Object.keys(OPTIMISERS).join(', ')}`);
  const lossAt = take(source, 'TRAINING', 'loss_type');
  const loss = lossAt?.value.trim() ?? NIFTYNET_DEFAULTS.loss_type;
  if (!LOSS_TYPES.includes(loss)) throw fail(source, lossAt!, '[TRAINING] loss_type', `${loss} is not a NiftyNet segmentation loss thaw has`, `use one of ${LOSS_TYPES.join(', ')}`);
  const restore = pattern(source, 'vars_to_restore');
  const freeze = pattern(source, 'vars_to_freeze');
  const stage: Record<string, unknown> = {
    name,
    iterations: 0, // set by the chain, which knows where the stage starts
    optimizer: optimiser,
    lr: float(source, 'TRAINING', 'lr', NIFTYNET_DEFAULTS.lr),
    loss_type: loss,
    batch_size: int(source, 'NETWORK', 'batch_size', NIFTYNET_DEFAULTS.batch_size),
    save_every_n: int(source, 'TRAINING', 'save_every_n', NIFTYNET_DEFAULTS.save_every_n),
    max_checkpoints: int(source, 'TRAINING', 'max_checkpoints', NIFTYNET_DEFAULTS.max_checkpoints),
    // NiftyNet's batch norm in frozen layers: batch statistics, moving averages updating (thaw's default differs).
    frozen_batch_norm: 'batch',
  };
  if (restore !== undefined) stage.vars_to_restore = restore;
  // NiftyNet freezes `vars_to_freeze or vars_to_restore` (segmentation_application.py); thaw is told explicitly.
  const frozen = freeze ?? restore;
  if (frozen !== undefined) stage.vars_to_freeze = frozen;
  return { stage, startingIter, maxIter, modelDir };
}

/** A value that turns its feature off (False, 0, an empty tuple, -1): not carrying it over changes nothing. */
function isOff(value: string): boolean {
  return /^\s*(false|no|n|f|0|0\.0*|-1|\(\s*\))\s*$/i.test(value);
}

/**
 * The keys no part of the mapping read, as warnings with their reasons; for a later file of a chain only those whose
 * value differs from the first file's (the rest was said once).
 */
function unreadKeys(source: Source, first: Source | null): ImportNote[] {
  const notes: ImportNote[] = [];
  for (const section of source.ini.sections) {
    for (const [key, value] of section.values) {
      if (source.used.has(`${section.name}\0${key}`) || isOff(value.value)) continue;
      if (first && first.section(section.name)?.values.get(key)?.value === value.value) continue;
      const reason = section.name === 'INFERENCE' || section.name === 'EVALUATION'
        ? `thaw import maps training only; run thaw eval on the segmentations (there is no thaw infer yet)`
        : REASONS[key] ?? 'thaw has no equivalent';
      notes.push({ file: source.file, line: value.line, key: `[${section.name}] ${key}`, message: `not imported: ${reason}` });
    }
  }
  return notes;
}

function lineOf(source: Source, section: string, key: string): number | null {
  return source.section(section)?.values.get(key)?.line ?? null;
}

/**
 * Where NiftyNet would start a file: starting_iter, or for -1 the latest checkpoint in its model_dir (null: none
 * readable here).
 */
async function niftyNetStart(d: StageDraft, options: ImportOptions): Promise<number | null> {
  return d.startingIter === -1 ? options.latestIteration(d.modelDir) : d.startingIter;
}

/**
 * How many iterations each stage trains: what NiftyNet trained, max_iter − where it started. In the chain a stage
 * starts where the one before ended; each way the files differ from that is explained.
 */
async function chainIterations(drafts: StageDraft[], options: ImportOptions, warnings: ImportNote[]): Promise<void> {
  let end = 0;
  for (const [i, d] of drafts.entries()) {
    const prev = i > 0 ? drafts[i - 1] : null;
    const where = { file: d.source.file, line: lineOf(d.source, 'TRAINING', 'starting_iter'), key: '[TRAINING] starting_iter' };
    let from = await niftyNetStart(d, options);
    if (from === null) {
      // -1 finds nothing readable here: the chain's own continuation where there is one, else from scratch.
      from = prev ? end : 0;
      if (!prev) warnings.push({ ...where, message: `-1 (the latest checkpoint) finds no checkpoint in ${path.join(d.modelDir, 'models')} here: the stage is given max_iter = ${d.maxIter} iterations, as if from 0; put the checkpoint there (thaw then starts from it) and set iterations to max_iter minus its iteration` });
    }
    const iterations = d.maxIter - from;
    if (iterations < 1) {
      throw fail(d.source, d.source.section('TRAINING')?.values.get('max_iter') ?? null, '[TRAINING] max_iter', `${d.maxIter} leaves nothing to train from iteration ${from}`, 'max_iter is the iteration a NiftyNet run ends at: make it larger than starting_iter');
    }
    if (!prev) end = from;
    else {
      if (d.startingIter === 0) {
        warnings.push({ ...where, message: `0: NiftyNet starts this file from random weights; in the chain, stage ${d.stage.name} starts from stage ${prev.stage.name}'s final checkpoint (import the file alone for a fresh start)` });
      } else if (from !== end || d.modelDir !== prev.modelDir) {
        warnings.push({ ...where, message: `NiftyNet restores ${path.join(d.modelDir, 'models', `model.ckpt-${d.startingIter === -1 ? from : d.startingIter}`)}, which is not where ${path.basename(prev.source.file)} ends (iteration ${end} in ${prev.modelDir}): in the pipeline, stage ${d.stage.name} starts from stage ${prev.stage.name}'s final checkpoint and trains max_iter − starting_iter = ${iterations} iterations, to ${end + iterations}` });
      }
      if (d.modelDir !== prev.modelDir) {
        warnings.push({ file: d.source.file, line: lineOf(d.source, 'SYSTEM', 'model_dir'), key: '[SYSTEM] model_dir', message: `${d.modelDir} differs from ${prev.modelDir}: thaw writes every stage of the chain to the pipeline's model_dir (${drafts[0].modelDir}), their checkpoints told apart by iteration` });
      }
    }
    d.stage.iterations = iterations;
    end += iterations;
  }
}

export async function importNiftyNetConfigs(files: string[], options: ImportOptions): Promise<ImportedPipeline> {
  if (files.length === 0) throw new NiftyNetConfigError('no .ini files given', { fix: 'give one NiftyNet config per stage, in the order they ran' });
  const warnings: ImportNote[] = [];
  const names = new Set<string>();
  const drafts: StageDraft[] = [];
  let network: Record<string, unknown> | undefined;
  let data: Record<string, unknown> | undefined;
  for (const file of files) {
    const source = sourceOf(file);
    segmentationSection(source);
    const own = dataOf(source, warnings);
    const net = networkOf(source, own.channels, warnings);
    let name = safeName(file);
    for (let k = 2; names.has(name); k++) name = `${safeName(file).slice(0, 60)}_${k}`;
    names.add(name);
    const { stage, startingIter, maxIter, modelDir } = stageOf(source, name);
    if (!network) network = net;
    else if (JSON.stringify(net) !== JSON.stringify(network)) {
      throw new NiftyNetConfigError(`${file}: [NETWORK] ${JSON.stringify(net)} differs from ${files[0]}'s ${JSON.stringify(network)}: a chain fine-tunes one network`, { file, field: '[NETWORK]', fix: 'import configs of one network together' });
    }
    if (!data) data = own.data;
    else if (JSON.stringify(own.data) !== JSON.stringify(data)) stage.data = own.data;
    drafts.push({ source, stage, modelDir, startingIter, maxIter });
  }
  await chainIterations(drafts, options, warnings);
  for (const [i, d] of drafts.entries()) warnings.push(...unreadKeys(d.source, i === 0 ? null : drafts[0].source));
  return {
    pipeline: {
      name: options.name ?? safeName(files[0]),
      model_dir: drafts[0].modelDir,
      network,
      data,
      seed: 0,
      // thaw's starting_iter means what NiftyNet's does for the first file: 0 scratch, -1 latest, N model.ckpt-N.
      starting_iter: drafts[0].startingIter,
      stages: drafts.map((d) => d.stage),
    },
    warnings,
  };
}

export function formatImportNote(note: ImportNote): string {
  return `${note.file}${note.line === null ? '' : `:${note.line}`}: ${note.key}: ${note.message}`;
}
