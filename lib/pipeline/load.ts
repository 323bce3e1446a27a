/**
 * Pipeline YAML → Plan: parse (keeping node positions), validate against the JSON Schema, then check what a schema
 * cannot say (stage references, cycles, complete data), apply defaults, order the stages and hash the result.
 * Every problem names the file, line:column, the field and what would be valid; all of them are reported at once.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { UserError } from '../errors';
import {
  DEFAULT_BACKEND,
  DEFAULT_NORMALISATION,
  DEFAULT_SEED,
  DEFAULT_SETTINGS,
  DEFAULT_STARTING_ITER,
  SETTING_KEYS,
} from './defaults';
import { checkpointFolders } from './folders';
import type { DataConfig, NetworkConfig, Plan, StagePlan, TrainingSettings } from './plan';
import { fieldName, PipelineError, type PipelineProblem } from './problems';
import { checkSchema } from './schema';

export async function loadPipeline(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError('PipelineError', `${file}: cannot read the pipeline: ${(err as Error).message}`, {
      file,
      fix: 'check the path of the pipeline YAML',
    });
  }
  return parsePipeline(text, path.resolve(file));
}

type Path = Array<string | number>;
type Raw = Record<string, unknown>;

/** Parses pipeline YAML text; `file` is where it came from (relative paths resolve against its folder). */
export function parsePipeline(text: string, file: string): Plan {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = new Problems(file, doc, lines);
  for (const e of doc.errors) problems.atOffset(e.pos[0], '', `YAML syntax: ${e.message.split('\n')[0]}`);
  if (problems.any()) throw problems.error();

  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.at([], 'a pipeline is a mapping with name, network and stages');
    throw problems.error();
  }
  for (const p of checkSchema(raw)) problems.at(p.path, p.message, p.atKey);
  if (problems.any()) throw problems.error();

  const plan = buildPlan(raw as Raw, file, problems);
  if (!plan || problems.any()) throw problems.error();
  return plan;
}

class Problems {
  private readonly list: PipelineProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  any(): boolean {
    return this.list.length > 0;
  }

  error(): PipelineError {
    return new PipelineError(this.list);
  }

  atOffset(offset: number | undefined, field: string, message: string): void {
    const pos = offset === undefined ? undefined : this.lines.linePos(offset);
    this.list.push({ file: this.file, line: pos?.line, column: pos?.col, field, message });
  }

  /** A problem at a document path; `atKey` points at the key of the last segment rather than its value. */
  at(where: Path, message: string, atKey = false): void {
    this.atOffset(this.offsetOf(where, atKey), fieldName(where), message);
  }

  private offsetOf(where: Path, atKey: boolean): number | undefined {
    if (atKey && where.length > 0) {
      const parent = this.doc.getIn(where.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === where[where.length - 1]);
        const key = pair?.key as Node | undefined;
        if (key?.range) return key.range[0];
      }
    }
    // The nearest node that exists (a missing key is reported at its parent).
    for (let n = where.length; n >= 0; n--) {
      const node = (n === 0 ? this.doc.contents : this.doc.getIn(where.slice(0, n), true)) as Node | null | undefined;
      if (node?.range) return node.range[0];
    }
    return undefined;
  }
}

function buildPlan(raw: Raw, file: string, problems: Problems): Plan | null {
  const baseDir = path.dirname(file);
  const name = raw.name as string;
  const modelDir = resolveLocation(baseDir, (raw.model_dir as string | undefined) ?? path.join('runs', name));
  const defaults = { ...DEFAULT_SETTINGS, ...(raw.defaults as Partial<TrainingSettings> | undefined) };
  const rawStages = raw.stages as Raw[];

  const stages = rawStages.map((s, i): StagePlan => ({
    name: s.name as string,
    after: 'after' in s ? (s.after as string | null) : i === 0 ? null : (rawStages[i - 1].name as string),
    iterations: s.iterations as number,
    vars_to_restore: patterns(s.vars_to_restore),
    vars_to_freeze: patterns(s.vars_to_freeze),
    settings: pickSettings(defaults, s),
    data: stageData(raw.data as Raw | undefined, s.data as Raw | undefined, baseDir, ['stages', i], problems),
  }));
  checkNames(stages, problems);
  const ordered = topologicalOrder(stages, problems);
  if (!ordered) return null;
  const folders = checkpointFolders(modelDir, ordered);
  for (const s of ordered) s.checkpoint_dir = folders.get(s.name);

  const plan: Omit<Plan, 'hash'> = {
    name,
    source_file: file,
    model_dir: modelDir,
    network: network(raw.network),
    seed: (raw.seed as number | undefined) ?? DEFAULT_SEED,
    backend: (raw.backend as Plan['backend'] | undefined) ?? DEFAULT_BACKEND,
    starting_iter: (raw.starting_iter as number | undefined) ?? DEFAULT_STARTING_ITER,
    stages: ordered,
  };
  return { ...plan, hash: planHash(plan) };
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

function resolveLocation(baseDir: string, location: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? location : path.resolve(baseDir, location);
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
    for (const k of ['images', 'label_suffix', 'csv', 'normalisation']) {
      if (k in merged) problems.at(at, `${field}.${k} applies to nifti data only, not to synthetic data`);
    }
  } else {
    if (!merged.images && !merged.csv) problems.at(at, `${field}: nifti data needs "images" (a glob) or "csv"`);
    if ('task' in merged) problems.at(at, `${field}.task applies to synthetic data only, not to nifti data`);
    merged.normalisation ??= DEFAULT_NORMALISATION;
    if (typeof merged.images === 'string') merged.images = path.resolve(baseDir, merged.images);
    if (typeof merged.csv === 'string') merged.csv = path.resolve(baseDir, merged.csv);
  }
  return merged as unknown as DataConfig;
}

function checkNames(stages: StagePlan[], problems: Problems): void {
  const seen = new Map<string, number>();
  stages.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) problems.at(['stages', i, 'name'], `stage name "${s.name}" is already used by stages[${first}]: stage names must be unique`);
    else seen.set(s.name, i);
  });
  const names = stages.map((s) => s.name);
  stages.forEach((s, i) => {
    if (s.after === null || names.includes(s.after)) return;
    if (s.after === s.name) problems.at(['stages', i, 'after'], `a stage cannot come after itself`);
    else problems.at(['stages', i, 'after'], `no stage is named "${s.after}": valid parents are ${names.filter((n) => n !== s.name).join(', ')}`);
  });
}

/** Parents before children, otherwise in file order; null (with a problem) on a cycle. */
function topologicalOrder(stages: StagePlan[], problems: Problems): StagePlan[] | null {
  if (problems.any()) return null;
  const ordered: StagePlan[] = [];
  const placed = new Set<string>();
  while (ordered.length < stages.length) {
    const next = stages.find((s) => !placed.has(s.name) && (s.after === null || placed.has(s.after)));
    if (!next) {
      const cycle = findCycle(stages.filter((s) => !placed.has(s.name)));
      const i = stages.findIndex((s) => s.name === cycle[0]);
      problems.at(['stages', i, 'after'], `the stages ${cycle.join(' → ')} form a cycle through "after": one of them must start from another stage or from scratch (after: null)`);
      return null;
    }
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}

/** Follows `after` from an unplaceable stage until a name repeats; returns the names on the cycle. */
function findCycle(stuck: StagePlan[]): string[] {
  const parentOf = new Map(stuck.map((s) => [s.name, s.after]));
  const walk: string[] = [];
  let name: string | null | undefined = stuck[0].name;
  while (name && !walk.includes(name)) {
    walk.push(name);
    name = parentOf.get(name);
  }
  return name ? [...walk.slice(walk.indexOf(name)), name] : walk;
}
