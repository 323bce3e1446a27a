/**
 * Pipeline YAML → Plan: parse (keeping node positions), validate against the JSON Schema, then check what a schema
 * cannot say (stage references, cycles, complete data), apply defaults, order the stages and hash the result.
 * Every problem names the file, line:column, the field and what would be valid; all of them are reported at once.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isPair, isScalar, LineCounter, type Document, type Node } from 'yaml';
import { UserError } from '../errors';
import {
  DEFAULT_BACKEND,
  DEFAULT_NORMALISATION,
  DEFAULT_SEED,
  DEFAULT_SETTINGS,
  DEFAULT_STARTING_ITER,
  SETTING_KEYS,
} from './defaults';
import { listOf } from '../data/niftynet-search';
import { checkpointFolders } from './folders';
import { topologicalOrder } from './dag';
import {
  MAX_ITERATIONS, MAX_MODEL_DIR_BYTES, MAX_PATH_SEGMENT_BYTES, MAX_PIPELINE_BYTES, MAX_PROBLEMS, MAX_STAGES,
} from './limits';
import type { DataConfig, NetworkConfig, Plan, StagePlan, TrainingSettings } from './plan';
import { closest, fieldName, PipelineError, type PipelineProblem } from './problems';
import { checkSchema } from './schema';
import { parseYaml } from './yaml';

export async function loadPipeline(file: string): Promise<Plan> {
  return (await loadPipelineSource(file)).plan;
}

/** Where a preflight field (`stages[2].vars_to_freeze[0]`, numbered as in plan.stages) is in the file. */
export interface FieldLocation {
  line: number;
  column: number;
  /** The field as numbered in the file (plan.stages is in DAG order, which may differ from the file's). */
  field: string;
}

export type PipelineLocator = (field: string) => FieldLocation | undefined;

/** A plan and where its fields are in the file, so that later problems (preflight's) can say line:column too. */
export interface PipelineSource {
  plan: Plan;
  locate: PipelineLocator;
}

export async function loadPipelineSource(file: string): Promise<PipelineSource> {
  return parsePipelineSource(await readPipelineText(file), path.resolve(file));
}

/** The file's text: a regular file of at most MAX_PIPELINE_BYTES (a FIFO or /dev/zero would block or never end). */
async function readPipelineText(file: string): Promise<string> {
  const cannot = (why: string, fix = 'check the path of the pipeline YAML') =>
    new PipelineError({ message: `${file}: cannot read the pipeline: ${why}`, details: { file, fix } });
  let handle;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw cannot((err as Error).message);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw cannot('it is a folder, not a file', 'give the path of a pipeline .yaml file');
    if (!stat.isFile()) throw cannot('it is not a regular file (a device, FIFO or socket)', 'give the path of a pipeline .yaml file');
    if (stat.size > MAX_PIPELINE_BYTES) throw tooLarge(file, stat.size);
    // Read at most one byte more than allowed: a file that grows while it is read is still bounded.
    const buffer = Buffer.alloc(MAX_PIPELINE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_PIPELINE_BYTES) throw tooLarge(file, length);
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw cannot((err as Error).message);
  } finally {
    await handle.close();
  }
}

function tooLarge(file: string, bytes: number): PipelineError {
  const size = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);
  return new PipelineError({
    message: `${file}: the pipeline is ${bytes === MAX_PIPELINE_BYTES + 1 ? 'over ' : ''}${size(bytes)}, more than thaw reads (${size(MAX_PIPELINE_BYTES)})`,
    details: { file, fix: `keep a pipeline under ${size(MAX_PIPELINE_BYTES)} and ${MAX_STAGES} stages; split a longer schedule into several pipelines` },
  });
}

type Path = Array<string | number>;
type Raw = Record<string, unknown>;

/** Parses pipeline YAML text; `file` is where it came from (relative paths resolve against its folder). */
export function parsePipeline(text: string, file: string): Plan {
  return parsePipelineSource(text, file).plan;
}

export function parsePipelineSource(text: string, file: string): PipelineSource {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PIPELINE_BYTES) throw tooLarge(file, bytes);
  const lines = new LineCounter();
  const parsed = parseYaml(text, lines);
  const problems = new Problems(file, parsed.doc, lines);
  for (const p of parsed.problems) problems.atOffset(p.offset, fieldName(p.path), p.message);
  if (problems.any()) throw problems.error();

  const raw = parsed.value;
  if (raw === null || raw === undefined) {
    problems.atOffset(0, '', 'the file is empty: a pipeline is a mapping with name, network and stages');
    throw problems.error();
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.at([], 'a pipeline is a mapping with name, network and stages');
    throw problems.error();
  }
  const stageCount = Array.isArray((raw as Raw).stages) ? ((raw as Raw).stages as unknown[]).length : 0;
  if (stageCount > MAX_STAGES) {
    problems.at(['stages'], `${stageCount} stages, more than thaw runs in one pipeline (${MAX_STAGES}): split the schedule into several pipelines`, true);
    throw problems.error();
  }
  for (const p of checkSchema(raw)) problems.at(p.path, p.message, p.atKey);
  if (problems.any()) throw problems.error();

  const built = buildPlan(raw as Raw, file, problems);
  if (!built || problems.any()) throw problems.error();
  return { plan: built.plan, locate: locator(problems, built.fileIndex) };
}

/** The locator of a plan: preflight's field names (stages numbered in DAG order) → file position and file field. */
function locator(problems: Problems, fileIndex: ReadonlyMap<number, number>): PipelineLocator {
  return (field) => {
    const where = parseField(field);
    if (where === null) return undefined;
    if (where[0] === 'stages' && typeof where[1] === 'number') where[1] = fileIndex.get(where[1]) ?? where[1];
    const pos = problems.positionOf(where);
    return pos && { ...pos, field: fieldName(where) };
  };
}

/** `stages[1].vars_to_freeze[0]` → ['stages', 1, 'vars_to_freeze', 0]; null when it is no field path. */
function parseField(field: string): Path | null {
  const out: Path = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(field)) !== null) {
    if (m.index !== at && !(field[at] === '.' && m.index === at + 1)) return null;
    out.push(m[1] !== undefined ? m[1] : Number(m[2]));
    at = re.lastIndex;
  }
  return at === field.length && out.length > 0 ? out : null;
}

class Problems {
  private readonly list: PipelineProblem[] = [];
  /** Problems beyond MAX_PROBLEMS: counted, not described. */
  private more = 0;
  constructor(
    private readonly file: string,
    private readonly doc: Document | null,
    private readonly lines: LineCounter,
  ) {}

  any(): boolean {
    return this.list.length > 0;
  }

  error(): PipelineError {
    if (this.more === 0) return new PipelineError(this.list);
    const last = this.list[this.list.length - 1];
    const more = { file: this.file, field: '', message: `and ${this.more} more problems like these (after line ${last.line ?? 1})` };
    return new PipelineError([...this.list, more], this.list.length + this.more);
  }

  atOffset(offset: number | undefined, field: string, message: string): void {
    if (this.list.length >= MAX_PROBLEMS) {
      this.more++;
      return;
    }
    const pos = offset === undefined ? undefined : this.lines.linePos(offset);
    this.list.push({ file: this.file, line: pos?.line, column: pos?.col, field, message });
  }

  /** A problem at a document path; `atKey` points at the key of the last segment rather than its value. */
  at(where: Path, message: string, atKey = false): void {
    if (this.list.length >= MAX_PROBLEMS) {
      this.more++;
      return;
    }
    this.atOffset(this.offsetOf(where, atKey), fieldName(where), message);
  }

  /** line:column of the node at `where`, else of the nearest node above it. */
  positionOf(where: Path): { line: number; column: number } | undefined {
    // A stage that inherits its data has no stages[i].data: point at the pipeline's data instead.
    if (where[0] === 'stages' && where[2] === 'data' && !this.has(where.slice(0, 3)) && this.has(['data'])) where = where.slice(2);
    const offset = this.offsetOf(where, false);
    if (offset === undefined) return undefined;
    const pos = this.lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  private has(where: Path): boolean {
    return this.doc?.hasIn(where) ?? false;
  }

  private offsetOf(where: Path, atKey: boolean): number | undefined {
    if (!this.doc) return undefined;
    if (atKey && where.length > 0) {
      const parent = this.doc.getIn(where.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === where[where.length - 1]);
        const key = pair?.key as Node | undefined;
        if (key?.range) return key.range[0];
      }
    }
    // The nearest node that exists (a missing key is reported at its parent); an empty document at its start.
    for (let n = where.length; n >= 0; n--) {
      const node = (n === 0 ? this.doc.contents : this.doc.getIn(where.slice(0, n), true)) as Node | null | undefined;
      if (node?.range) return node.range[0];
    }
    return 0;
  }
}

interface Built {
  plan: Plan;
  /** Index in plan.stages → index in the file's stages. */
  fileIndex: Map<number, number>;
}

/** A stage as read, before the DAG gives it its folder. */
type StageDraft = Omit<StagePlan, 'checkpoint_dir'>;

function buildPlan(raw: Raw, file: string, problems: Problems): Built | null {
  const baseDir = path.dirname(file);
  const name = raw.name as string;
  const modelDir = modelDirOf(raw, baseDir, problems);
  const defaults = { ...DEFAULT_SETTINGS, ...(raw.defaults as Partial<TrainingSettings> | undefined) };
  const rawStages = raw.stages as Raw[];
  const startingIter = (raw.starting_iter as number | undefined) ?? DEFAULT_STARTING_ITER;
  if (startingIter > MAX_ITERATIONS) problems.at(['starting_iter'], `must be at most ${MAX_ITERATIONS} (got ${startingIter})`);

  const stages = rawStages.map((s, i): StageDraft => ({
    name: s.name as string,
    after: 'after' in s ? (s.after as string | null) : i === 0 ? null : (rawStages[i - 1].name as string),
    iterations: s.iterations as number,
    vars_to_restore: patterns(s.vars_to_restore),
    vars_to_freeze: patterns(s.vars_to_freeze),
    settings: pickSettings(defaults, s),
    data: stageData(raw.data as Raw | undefined, s.data as Raw | undefined, baseDir, ['stages', i], problems),
  }));
  checkNames(stages, problems);
  const order = orderOrReportCycle(stages, problems);
  if (!order || modelDir === null) return null;
  const drafts = order.map((i) => stages[i]);
  const folders = checkpointFolders(modelDir, drafts);
  const ordered = drafts.map((s): StagePlan => ({ ...s, checkpoint_dir: folders.get(s.name)! }));

  const plan: Omit<Plan, 'hash'> = {
    name,
    source_file: file,
    model_dir: modelDir,
    network: network(raw.network),
    seed: (raw.seed as number | undefined) ?? DEFAULT_SEED,
    backend: (raw.backend as Plan['backend'] | undefined) ?? DEFAULT_BACKEND,
    starting_iter: startingIter,
    stages: ordered,
  };
  return { plan: { ...plan, hash: planHash(plan) }, fileIndex: new Map(order.map((fileIdx, i) => [i, fileIdx])) };
}

/** sha256 of the plan without where it was read from: key order and formatting of the YAML do not matter. */
export function planHash(plan: Omit<Plan, 'hash'> | Plan): string {
  const { source_file: _sourceFile, ...rest } = plan as Plan;
  delete (rest as Partial<Plan>).hash;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Raw)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
/** s3://bucket or s3://bucket/prefix (the store itself judges the bucket's name). */
const S3_URL = /^s3:\/\/[^/\s]+(\/|$)/;

/** `~` and `~/…` are the home folder, as in a shell; `~user` is not expanded. */
export function expandHome(location: string): string | null {
  if (location === '~') return os.homedir();
  if (location.startsWith('~/')) return path.join(os.homedir(), location.slice(2));
  return location.startsWith('~') ? null : location;
}

/** The run's folder: an absolute local path or an s3:// URL; null (with a problem) when it cannot be one. */
function modelDirOf(raw: Raw, baseDir: string, problems: Problems): string | null {
  const given = raw.model_dir as string | undefined;
  const at = (message: string) => {
    problems.at(given === undefined ? ['name'] : ['model_dir'], message);
    return null;
  };
  if (given === undefined) return checkLocalPath(path.resolve(baseDir, 'runs', raw.name as string), at);
  const scheme = URL_SCHEME.exec(given)?.[1].toLowerCase();
  if (scheme === 's3') {
    if (!S3_URL.test(given)) return at(`${JSON.stringify(given)} is not an s3://bucket/prefix URL: name the bucket after s3://`);
    if (Buffer.byteLength(given) > MAX_MODEL_DIR_BYTES) return at(`is ${Buffer.byteLength(given)} bytes long, more than ${MAX_MODEL_DIR_BYTES}: checkpoint keys below it must fit S3's 1024 bytes; use a shorter prefix`);
    return given;
  }
  if (scheme === 'file') {
    try {
      return checkLocalPath(fileURLToPath(given), at);
    } catch (err) {
      return at(`${JSON.stringify(given)} is not a usable file:// URL (${(err as Error).message}): give a local path instead`);
    }
  }
  if (scheme !== undefined) {
    const hint = scheme === 'gs' ? ' (for Google Cloud Storage, use its S3 interface: s3://bucket/… with AWS_ENDPOINT_URL_S3=https://storage.googleapis.com)' : '';
    return at(`${scheme}:// is not a storage thaw knows: give a local path or an s3://bucket/prefix URL${hint}`);
  }
  const expanded = expandHome(given);
  if (expanded === null) return at(`${JSON.stringify(given)}: only ~ and ~/… (your home folder) are expanded, not ~user: write the full path`);
  return checkLocalPath(path.resolve(baseDir, expanded), at);
}

/** A local model_dir must have a name the filesystem can create (the folder itself is checked by preflight). */
function checkLocalPath(dir: string, at: (message: string) => null): string | null {
  if (dir.includes('\0')) return at('contains a NUL character (\\0), which no filesystem allows in a path: remove it');
  const bytes = Buffer.byteLength(dir);
  if (bytes > MAX_MODEL_DIR_BYTES) return at(`is ${bytes} bytes long as an absolute path, more than ${MAX_MODEL_DIR_BYTES}: checkpoint paths below it must fit the filesystem's limits; use a shorter path`);
  const long = dir.split('/').find((part) => Buffer.byteLength(part) > MAX_PATH_SEGMENT_BYTES);
  if (long !== undefined) return at(`has a folder name of ${Buffer.byteLength(long)} bytes, more than the ${MAX_PATH_SEGMENT_BYTES} a filesystem allows: use shorter names`);
  return dir;
}

/** A data path (images glob, csv) relative to the pipeline's folder; `~/` is the home folder. */
function resolvePath(baseDir: string, location: string): string {
  return path.resolve(baseDir, expandHome(location) ?? location);
}

function network(value: unknown): NetworkConfig {
  if (typeof value === 'string') return { name: value, params: {} };
  const v = value as { name: string; params?: Record<string, unknown> };
  return { name: v.name, params: v.params ?? {} };
}

function patterns(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? [value] : [...(value as string[])];
}

function pickSettings(defaults: TrainingSettings, stage: Raw): TrainingSettings {
  const settings = { ...defaults };
  for (const key of SETTING_KEYS) {
    if (stage[key] !== undefined) (settings as Record<string, unknown>)[key] = stage[key];
  }
  return settings;
}

/** A NiftyNet input section's paths against the pipeline's folder: its csv_file, or each path_to_search folder. */
function resolveSection(baseDir: string, section: Raw): Raw {
  if (typeof section?.csv_file === 'string') return { ...section, csv_file: resolvePath(baseDir, section.csv_file) };
  const folders = section?.path_to_search;
  if (typeof folders !== 'string' && !Array.isArray(folders)) return section;
  return { ...section, path_to_search: listOf(folders as string | string[]).map((f) => resolvePath(baseDir, f)) };
}

/** The stage's data: its override merged field by field over the pipeline's (replaced when the kind differs). */
function stageData(top: Raw | undefined, own: Raw | undefined, baseDir: string, where: Path, problems: Problems): DataConfig {
  const merged: Raw = own?.kind !== undefined && top?.kind !== undefined && own.kind !== top.kind ? { ...own } : { ...top, ...own };
  const at: Path = own ? [...where, 'data'] : top ? ['data'] : where;
  const field = fieldName(own ? [...where, 'data'] : ['data']);
  if (merged.kind === undefined) {
    if (!top && !own) problems.at(at, 'no data: add `data:` to the pipeline or to this stage');
    else problems.at(at, `${field}.kind is missing: use "synthetic" or "nifti"`);
    return merged as unknown as DataConfig;
  }
  if (!merged.spatial_size) problems.at(at, `${field}.spatial_size is missing: give 2 or 3 sizes, e.g. [32, 32]`);
  if (merged.kind === 'synthetic') {
    if (!merged.task) problems.at(at, `${field}.task is missing: name a synthetic task, e.g. "A"`);
    for (const k of ['images', 'label_suffix', 'csv', 'inputs', 'image', 'label', 'dataset_split_file', 'window_sampling', 'normalisation']) {
      if (k in merged) problems.at(at, `${field}.${k} applies to nifti data only, not to synthetic data`);
    }
  } else {
    if (!merged.images && !merged.csv && !merged.inputs) problems.at(at, `${field}: nifti data needs "images" (a glob), "csv" or "inputs" (NiftyNet sections)`);
    if ('task' in merged) problems.at(at, `${field}.task applies to synthetic data only, not to nifti data`);
    merged.normalisation ??= DEFAULT_NORMALISATION;
    if (typeof merged.images === 'string') merged.images = resolvePath(baseDir, merged.images);
    if (typeof merged.csv === 'string') merged.csv = resolvePath(baseDir, merged.csv);
    if (typeof merged.dataset_split_file === 'string') merged.dataset_split_file = resolvePath(baseDir, merged.dataset_split_file);
    if (merged.inputs && typeof merged.inputs === 'object') {
      merged.inputs = Object.fromEntries(Object.entries(merged.inputs as Record<string, Raw>).map(([name, s]) => [name, resolveSection(baseDir, s)]));
    }
  }
  return merged as unknown as DataConfig;
}

function checkNames(stages: StageDraft[], problems: Problems): void {
  const seen = new Map<string, number>();
  stages.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) problems.at(['stages', i, 'name'], `stage name "${s.name}" is already used by stages[${first}]: stage names must be unique`);
    else seen.set(s.name, i);
  });
  const names = [...seen.keys()];
  stages.forEach((s, i) => {
    if (s.after === null || seen.has(s.after)) return;
    if (s.after === s.name) problems.at(['stages', i, 'after'], `a stage cannot come after itself`);
    else problems.at(['stages', i, 'after'], `no stage is named "${s.after}": ${validParents(s, names)}`);
  });
}

/** What `after` could say: every other stage when there are few, else the closest name. */
function validParents(stage: StageDraft, names: readonly string[]): string {
  const others = names.filter((n) => n !== stage.name);
  if (others.length <= 12) return `valid parents are ${others.join(', ')}`;
  const guess = stage.after === null ? undefined : closest(stage.after, others);
  return `${guess ? `did you mean "${guess}"? ` : ''}valid parents are the names of the other ${others.length} stages (${others.slice(0, 5).join(', ')}, …)`;
}

/** Parents before children, otherwise in file order, as indices into `stages`; null (with a problem) on a cycle. */
function orderOrReportCycle(stages: StageDraft[], problems: Problems): number[] | null {
  if (problems.any()) return null;
  const result = topologicalOrder(stages);
  if ('order' in result) return result.order;
  const at = stages.findIndex((s) => s.name === result.cycle[0]);
  problems.at(['stages', at, 'after'], `the stages ${result.cycle.join(' → ')} form a cycle through "after": one of them must start from another stage or from scratch (after: null)`);
  return null;
}
