/**
 * Generated pipelines for fuzzing `thaw check`: a valid pipeline drawn from schemas/pipeline.schema.json (every
 * object's required keys, a random choice of its optional ones, a branch of each oneOf, values within each enum and
 * bound; names, networks, regexes and sizes from small realistic pools), then mutations of the value (wrong types,
 * missing keys, huge numbers, odd strings, bad regexes, bad network params, unknown keys, bad `after`) and of the text
 * (aliases, alias bombs, tags, deep nesting, duplicate keys, several documents, tabs, BOM, CRLF, NUL, truncation, bad
 * UTF-8). Deterministic in the seed.
 */
import { stringify } from 'yaml';
import schema from '../../schemas/pipeline.schema.json';

/** mulberry32: small, fast and good enough to pick mutations. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, unknown>;

const DEFS = (schema as unknown as { $defs: Record<string, Schema> }).$defs;

function resolve(s: Schema): Schema {
  const ref = s.$ref as string | undefined;
  if (!ref) return s;
  const target = ref.replace('#/$defs/', '').split('/').reduce<Schema>((node, key) => node[key] as Schema, DEFS);
  return resolve({ ...target, ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$ref')) });
}

const REGEXES = [
  '^ToyNet/conv_input', 'conv_output', '^((?!(Adam)).)*$', '^((?!conv_output).)*$', 'bn_', '.*', '', '/w$', '(?i)toynet',
  '^HighRes3DNet/(conv_0|res_1)', '^((?!DenseVNet\\/(skip_conv|fin_conv)).)*$', '(?P<scope>ToyNet)/(?P=scope)', '\\Aconv\\Z',
];
const BAD_REGEXES = ['(', '[a-', '(?P<', 'a{99999999}', '(a+)+$', '\\', '*', '(?<=a+)b', '(?P<1>x)', 'a**', '[[:alpha:]]', 'x'.repeat(2000)];
const NETWORKS: Array<{ name: string; params: Record<string, Json>; sizes: number[][] }> = [
  { name: 'toynet', params: { dims: 2, hidden_features: 4 }, sizes: [[8, 8], [16, 16], [12, 20]] },
  { name: 'toynet', params: { dims: 3, hidden_features: 2 }, sizes: [[8, 8, 8]] },
  { name: 'highres3dnet', params: { dims: 3, res_repeat: 1 }, sizes: [[16, 16, 16], [8, 8, 8]] },
  { name: 'highres3dnet_small', params: {}, sizes: [[16, 16, 16]] },
  { name: 'unet_2d', params: { n_features: [4, 4, 4, 4, 4] }, sizes: [[188, 188]] },
  { name: 'dense_vnet', params: { n_dense_channels: [2, 2], n_seg_channels: [2, 2], n_down_channels: [2, null], dilation_rates: [[1], [1]], n_initial_conv_channels: 4 }, sizes: [[32, 32, 32]] },
  { name: 'no_new_net', params: { n_features: [2, 2, 2, 2, 2] }, sizes: [[32, 32, 32]] },
];
const ODD_STRINGS = [
  '', ' ', '\t', 'ünïcödé', '🧊', '..', '../../..', '~', '~/x', '~bob/x', '/dev/null', '/proc/thaw', 's3://', 's3://b', 'gs://bucket/x',
  'https://example.com/x', 'file:///nonexistent/x', 'x'.repeat(5000), 'a\u0000b', '%s%n', '${HOME}', '-', 'null', '.nan', 'C:\\runs',
  '\\\\server\\share', 'runs/../../x', 'a b', 'A'.repeat(65), '*', '[', '{', '#x', '&x', '!x',
];
const HUGE_NUMBERS = [1e30, -1, 0, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER + 1, 1e308, -1e308, 0.5, 1e-320, 4294967296, 2 ** 31, 1e9 + 1, -0];

function drawValue(rng: Rng, s0: Schema, path: string[]): Json {
  const s = resolve(s0);
  const key = path[path.length - 1];
  if (s.oneOf) return drawValue(rng, rng.pick(s.oneOf as Schema[]), path);
  if (s.enum) return rng.pick(s.enum as Json[]);
  const type = Array.isArray(s.type) ? rng.pick(s.type as string[]) : (s.type as string | undefined);
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return rng.chance(0.5);
    case 'integer': {
      const min = (s.minimum as number | undefined) ?? 0;
      const max = Math.min((s.maximum as number | undefined) ?? 1000, min + 100);
      return min + rng.int(max - min + 1);
    }
    case 'number': {
      const lo = (s.minimum as number | undefined) ?? (s.exclusiveMinimum as number | undefined) ?? 0;
      const hi = (s.exclusiveMaximum as number | undefined) ?? lo + 1;
      return Number((lo + (hi - lo) * (0.01 + 0.98 * rng.next())).toPrecision(3));
    }
    case 'string':
      if (s.pattern) return `${rng.pick(['s', 'stage', 'run', 'Head', 'x1'])}${rng.int(100)}`;
      if (key === 'task') return rng.pick(['A', 'B', 'C']);
      if (key === 'images') return rng.pick(['data/*.nii.gz', 'none/*.nii', '**/*.nii.gz']);
      if (key === 'csv') return rng.pick(['cases.csv', 'missing.csv']);
      if (key === 'label_suffix') return '_label';
      if (key === 'model_dir') return rng.pick(['./run', 'runs/x', './ckpt']);
      return rng.pick(REGEXES);
    case 'array': {
      const items = (s.items ?? {}) as Schema;
      const min = (s.minItems as number | undefined) ?? 0;
      const max = Math.min((s.maxItems as number | undefined) ?? 4, min + 3);
      return Array.from({ length: min + rng.int(max - min + 1) }, (_, i) => drawValue(rng, items, [...path, String(i)]));
    }
    case 'object':
    default: {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = (s.required ?? []) as string[];
      const out: Record<string, Json> = {};
      for (const [k, sub] of Object.entries(props)) {
        if (required.includes(k) || rng.chance(0.3)) out[k] = drawValue(rng, sub, [...path, k]);
      }
      return out;
    }
  }
}

/** A valid-looking pipeline: the schema's shape, with a real network, data it can take and stages that chain. */
export function drawPipeline(rng: Rng): Record<string, Json> {
  const p = drawValue(rng, schema as unknown as Schema, []) as Record<string, Json>;
  // Copies: mutations must not reach the pools (each case is a pure function of the seed and its index).
  const net = JSON.parse(JSON.stringify(rng.pick(NETWORKS))) as (typeof NETWORKS)[number];
  p.network = rng.chance(0.2) ? net.name : { name: net.name, params: net.params };
  const size = rng.pick(net.sizes);
  p.data = rng.chance(0.85)
    ? { kind: 'synthetic', task: rng.pick(['A', 'B', 'C']), spatial_size: size }
    : { kind: 'nifti', images: rng.pick(['data/*.nii.gz', 'none/*.nii']), spatial_size: size };
  if (rng.chance(0.5)) delete p.model_dir;
  if (p.model_dir === './ckpt') p.starting_iter = rng.pick([40, -1, 0, 7]);
  else if (rng.chance(0.7)) delete p.starting_iter;
  const stages = (p.stages as Array<Record<string, Json>>).slice(0, 1 + rng.int(4));
  stages.forEach((s, i) => {
    s.name = `s${i}`;
    s.iterations = 1 + rng.int(50);
    delete s.data;
    if (i > 0 && rng.chance(0.3)) s.after = `s${rng.int(i)}`;
    else delete s.after;
    if (!(s.optimizer === 'adam' || s.optimizer === undefined)) delete s.optimizer;
    for (const k of ['batch_size', 'save_every_n', 'max_checkpoints']) if (typeof s[k] === 'number') s[k] = 1 + rng.int(8);
  });
  p.stages = stages;
  if (typeof p.defaults === 'object' && p.defaults !== null && !Array.isArray(p.defaults)) {
    for (const k of ['batch_size', 'save_every_n', 'max_checkpoints']) if (typeof p.defaults[k] === 'number') p.defaults[k] = 1 + rng.int(8);
  }
  return p;
}

type Container = Record<string, Json> | Json[];

/** Every (container, key) in the value, for mutations at a random place. */
function places(value: Json, out: Array<[Container, string | number]> = []): Array<[Container, string | number]> {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      places(v, out);
    });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push([value, k]);
      places(v, out);
    }
  }
  return out;
}

const WRONG_TYPES: Json[] = [null, true, 0, -3, 1.5, '', 'x', [], [1, 'a'], {}, { a: 1 }, [[[]]]];

/** Mutations of the value; returns their names. */
export function mutateValue(rng: Rng, p: Record<string, Json>): string[] {
  const done: string[] = [];
  const n = rng.pick([0, 0, 1, 1, 2, 3]);
  for (let m = 0; m < n; m++) {
    const all = places(p);
    const [container, key] = rng.pick(all);
    const kind = rng.pick(['type', 'delete', 'huge', 'odd', 'regex', 'params', 'unknown', 'after', 'stage-copy', 'modeldir', 'iterations', 'network']);
    done.push(kind);
    const set = (c: Container, k: string | number, v: Json) => ((c as Record<string, Json>)[k as string] = v);
    const stages = Array.isArray(p.stages) ? (p.stages as Json[]) : [];
    const stage = stages.length > 0 ? stages[rng.int(stages.length)] : null;
    const asStage = stage && typeof stage === 'object' && !Array.isArray(stage) ? stage : null;
    switch (kind) {
      case 'type':
        set(container, key, rng.pick(WRONG_TYPES));
        break;
      case 'delete':
        if (Array.isArray(container)) container.splice(key as number, 1);
        else delete container[key as string];
        break;
      case 'huge':
        set(container, key, rng.pick(HUGE_NUMBERS));
        break;
      case 'odd':
        set(container, key, rng.pick(ODD_STRINGS));
        break;
      case 'regex':
        if (asStage) asStage[rng.pick(['vars_to_restore', 'vars_to_freeze'])] = rng.chance(0.5) ? rng.pick(BAD_REGEXES) : [rng.pick(REGEXES), rng.pick(BAD_REGEXES)];
        break;
      case 'params': {
        const params: Record<string, Json> = {};
        const name = rng.pick(['dims', 'hidden_features', 'in_channels', 'num_classes', 'res_repeat', 'n_features', 'activation_function', 'conv_0_features', 'dilation_rates', 'bogus']);
        params[name] = rng.pick<Json>([0, -1, 4, 1e6, 1e12, 'relu', 'sigmoid', [1, 2], [[1]], null, 2.5, { x: 1 }, 3]);
        const net = typeof p.network === 'object' && p.network !== null && !Array.isArray(p.network) ? p.network : { name: String(p.network ?? 'toynet') };
        net.params = { ...(typeof net.params === 'object' && net.params && !Array.isArray(net.params) ? net.params : {}), ...params };
        p.network = net;
        break;
      }
      case 'unknown': {
        const target = asStage && rng.chance(0.6) ? asStage : p;
        target[rng.pick(['max_iter', 'learning_rate', 'optimiser', 'spatial_window_size', 'iteration', 'zzz', 'Name', '__proto__', 'constructor'])] = 1;
        break;
      }
      case 'after':
        if (asStage) asStage.after = rng.pick<Json>([String(asStage.name), 'nope', null, 's0', 's1', 3, '']);
        break;
      case 'stage-copy':
        if (stage !== null) stages.push(JSON.parse(JSON.stringify(stage)) as Json);
        break;
      case 'modeldir':
        p.model_dir = rng.pick(ODD_STRINGS.filter((s) => !s.startsWith('/') || s.startsWith('/dev/null') || s.startsWith('/proc')));
        break;
      case 'network': {
        const name = rng.pick(['../../..', './case.yaml', '/dev/null', './ckpt', './missing.js', './throws.js', './empty.js', 'TOYNET', 'toynet ', '', 'unet_3d']);
        p.network = rng.chance(0.5) ? name : { name, params: {} };
        break;
      }
      case 'iterations':
        if (asStage) asStage.iterations = rng.pick<Json>([1e30, Number.MAX_SAFE_INTEGER + 2, 1e9, 1e9 + 1, 0, -5, 2.5, '10', 1]);
        break;
    }
  }
  return done;
}

/** Mutations of the YAML text; returns the text (a string or raw bytes) and their names. */
export function mutateText(rng: Rng, text: string): { text: string | Buffer; mutations: string[] } {
  const mutations: string[] = [];
  let t = text;
  const lines = () => t.split('\n');
  const n = rng.pick([0, 0, 0, 1, 1, 2]);
  let bytes: Buffer | null = null;
  for (let m = 0; m < n; m++) {
    const kind = rng.pick([
      'alias', 'bomb', 'undefined-alias', 'self-alias', 'tag', 'deep-flow', 'deep-block', 'duplicate-key', 'two-docs', 'tab', 'bom', 'crlf',
      'nul', 'truncate', 'bytes', 'directive', 'flow-json', 'comment-only', 'empty', 'list-key', 'long-line', 'merge-key',
      'big-literal',
    ]);
    mutations.push(kind);
    const ls = lines();
    const at = rng.int(Math.max(1, ls.length));
    switch (kind) {
      case 'alias':
        t = t.replace(/^(name: .*)$/m, '$1\nx-anchor: &shared {kind: synthetic, task: A, spatial_size: [8, 8]}').replace(/^data: .*$/m, 'data: *shared');
        break;
      case 'bomb': {
        const bomb = ['b0: &b0 [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `b${i + 1}: &b${i + 1} [${Array(9).fill(`*b${i}`).join(', ')}]`)];
        t = rng.chance(0.5) ? `${bomb.join('\n')}\n${t}` : t.replace(/^network: .*$/m, `network:\n  name: toynet\n  params:\n${bomb.map((l) => `    ${l}`).join('\n')}`);
        break;
      }
      case 'undefined-alias':
        t = `${t}\nseed: *nope\n`;
        break;
      case 'self-alias':
        t = `${t}\nseed: &x [*x]\n`;
        break;
      case 'tag':
        t = `${t}\nseed: ${rng.pick(['!!binary aGVsbG8=', '!!set {a, b}', '!!timestamp 2001-12-14', '!foo 1', '!!str 3', '!!int 3', '!!float x', '!!omap [{a: 1}]'])}\n`;
        break;
      case 'deep-flow': {
        const d = rng.pick([63, 65, 5000]);
        t = `${t}\nseed: ${'['.repeat(d)}${']'.repeat(d)}\n`;
        break;
      }
      case 'deep-block': {
        const d = rng.pick([60, 70, 1500]);
        t = `${t}\nseed:\n${Array.from({ length: d }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')}\n`;
        break;
      }
      case 'duplicate-key':
        t = `${t}\n${ls[at]?.trimStart() || 'name: again'}\n`;
        break;
      case 'two-docs':
        t = `${t}\n---\n${t}`;
        break;
      case 'tab':
        ls[at] = ls[at].replace(/^ +/, '\t');
        t = ls.join('\n');
        break;
      case 'bom':
        t = `\uFEFF${t}`;
        break;
      case 'crlf':
        t = t.replace(/\n/g, '\r\n');
        break;
      case 'nul':
        t = `${t.slice(0, rng.int(t.length + 1))}\u0000${t.slice(rng.int(t.length + 1))}`;
        break;
      case 'truncate':
        t = t.slice(0, rng.int(t.length + 1));
        break;
      case 'bytes':
        bytes = Buffer.concat([Buffer.from(t), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80])]);
        break;
      case 'directive':
        t = `${rng.pick(['%YAML 1.1', '%YAML 1.2', '%YAML 2.0', '%TAG ! tag:example.com,2000:'])}\n---\n${t}`;
        break;
      case 'flow-json':
        break; // handled by the caller's choice of style
      case 'comment-only':
        t = '# just a comment\n';
        break;
      case 'empty':
        t = '';
        break;
      case 'list-key':
        t = `${t}\n? [a, b]\n: 1\n`;
        break;
      case 'long-line':
        t = `${t}\ndescription: ${'x'.repeat(rng.pick([1000, 100_000]))}\n`;
        break;
      case 'big-literal':
        // Integers YAML reads but a double cannot hold: written as text, as a user would.
        t = t.replace(/(iterations|seed|starting_iter): [0-9-]+/, `$1: ${rng.pick(['9007199254740993', '123456789012345678901234567890', '0x20000000000001', '-9007199254740993'])}`);
        break;
      case 'merge-key':
        t = `${t}\nextra: &e {lr: 0.1}\nmore: {<<: *e}\n`;
        break;
    }
  }
  return { text: bytes ?? t, mutations };
}

export interface FuzzCase {
  index: number;
  text: string | Buffer;
  /** What was done to it, for the report of a failing case. */
  mutations: string[];
  /** Extra CLI arguments (flags). */
  flags: string[];
}

export function fuzzCase(seed: number, index: number): FuzzCase {
  const rng = new Rng((seed * 1_000_003 + index) >>> 0);
  const pipeline = drawPipeline(rng);
  const mutations = mutateValue(rng, pipeline);
  const json = rng.chance(0.15);
  const yaml = json ? JSON.stringify(pipeline) : stringify(pipeline, { lineWidth: 0, aliasDuplicateObjects: false });
  const text = mutateText(rng, yaml);
  const flags = rng.chance(0.5) ? ['--json'] : rng.chance(0.1) ? ['--verbose'] : rng.chance(0.03) ? [rng.pick(['--colour', '-x', '--json=1'])] : [];
  return { index, text: text.text, mutations: [...mutations, ...(json ? ['json-style'] : []), ...text.mutations], flags };
}

export interface FuzzOutcome {
  index: number;
  code: number;
  /** e.g. `exit 1 PatternError`, `exit 0`, `exit 2 usage`. */
  label: string;
  ms: number;
  /** What is wrong with the outcome (exit 70, a stack trace, ...); empty when fine. */
  faults: string[];
  output: string;
}

/** `PipelineError` is every problem found while loading: say which kind. */
function errorLabel(e: { code: string; field: string; message: string } | undefined): string {
  if (!e) return '(no error listed)';
  if (e.code !== 'PipelineError') return e.code;
  const kind = /: YAML( syntax)?:/.test(e.message) ? 'YAML'
    : /the file is empty|cannot read the pipeline|more than thaw reads|is a mapping with/.test(e.message) ? 'file'
      : e.field === 'model_dir' || e.field === 'name' && /model_dir|path/.test(e.message) ? 'model_dir'
        : /stage name .* is already used|no stage is named|form a cycle|cannot come after itself|stages, more than/.test(e.message) ? 'stages'
          : /is beyond the numbers|NUL character|not a number a pipeline can use/.test(e.message) ? 'value'
            : /\.(task|spatial_size|kind|images|csv)|no data|applies to/.test(e.message) ? 'data'
              : 'schema';
  return `PipelineError (${kind})`;
}

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m;

/** Runs one case through the CLI's dispatcher in this process and judges what came out. */
export async function runFuzzCase(dir: string, c: FuzzCase): Promise<FuzzOutcome> {
  const { writeFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const { runMainInProcess } = await import('./cli');
  const file = path.join(dir, 'case.yaml');
  await writeFile(file, c.text);
  const t0 = process.hrtime.bigint();
  const result = await runMainInProcess(['check', file, ...c.flags]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const output = result.stdout + result.stderr;
  const faults: string[] = [];
  if (![0, 1, 2].includes(result.code)) faults.push(`exit ${result.code}`);
  if (/internal error/.test(output)) faults.push('internal error');
  if (STACK_LINE.test(output)) faults.push('stack trace');
  let label = `exit ${result.code}`;
  if (result.code === 2) label += ' usage';
  else if (c.flags.includes('--json') && (result.code === 0 || result.code === 1)) {
    try {
      const report = JSON.parse(result.stdout) as { ok: boolean; errors: Array<{ code: string; field: string; message: string }> };
      if (report.ok !== (result.code === 0)) faults.push('ok disagrees with the exit code');
      if (result.code === 1) label += ` ${errorLabel(report.errors[0])}`;
    } catch {
      faults.push('--json output is not JSON');
    }
  } else if (result.code === 1) {
    const first = output.split('\n').find((l) => l.startsWith('error: ') || l.startsWith('thaw check: '));
    if (!first) faults.push('exit 1 without an error line');
    // The same case with --json, for its error code (and judged the same way).
    const again = await runMainInProcess(['check', file, ...c.flags, '--json']);
    if (again.code !== 1) faults.push(`exit ${again.code} with --json, 1 without`);
    try {
      label += ` ${errorLabel((JSON.parse(again.stdout) as { errors: Array<{ code: string; field: string; message: string }> }).errors[0])}`;
    } catch {
      if (STACK_LINE.test(again.stdout + again.stderr)) faults.push('stack trace with --json');
      label += ' (not JSON)';
    }
  }
  if (result.code === 1 && !c.flags.includes('--json')) {
    // Every error names the file, with line:column where the problem has a place.
    for (const line of output.split('\n').filter((l) => l.startsWith('error: '))) {
      if (!line.startsWith(`error: ${file}`)) faults.push(`an error line that does not name the file: ${line.slice(0, 120)}`);
    }
  }
  return { index: c.index, code: result.code, label, ms, faults, output };
}

/** A scratch folder for fuzzing: a toynet checkpoint at iteration 40 in ckpt/, HOME and AWS settings pointed inside it. */
export async function fuzzSetup(): Promise<{ dir: string; restore(): Promise<void> }> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { saveCheckpoint } = await import('../../lib/checkpoint');
  const { getNetwork } = await import('../../lib/training/networks');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-fuzz-'));
  const tensors = new Map(getNetwork('toynet').variables({ dims: 2, hidden_features: 4 }).map((v) => {
    const n = v.shape.reduce((a, b) => a * b, 1);
    return [v.name, { dtype: 'float32' as const, shape: v.shape, data: new Float32Array(n) }];
  }));
  await saveCheckpoint(path.join(dir, 'ckpt'), 40, tensors);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(dir, 'throws.js'), 'throw new Error("a network module that fails to load");\n');
  await writeFile(path.join(dir, 'empty.js'), 'module.exports = {};\n');
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  Object.assign(process.env, {
    HOME: dir,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
  });
  return {
    dir,
    async restore() {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
