/**
 * NiftyNet `.ini` files read the way NiftyNet reads them: Python's `configparser.ConfigParser()` with its defaults
 * (NiftyNetLaunchConfig adds nothing). So: `[section]` headers, `key = value` or `key: value` split at the first `=` or
 * `:`, keys lower-cased, values stripped, full-line `#` / `;` comments only (a `#` after a value is part of it), indented
 * lines continuing the previous value, `[DEFAULT]` values visible in every section, duplicate sections or keys refused
 * (strict), and BasicInterpolation: `%%` is `%`, `%(key)s` is another key's value, any other `%` is an error.
 * Every value keeps the line it started on, so messages can point at it.
 */
import { readFileSync } from 'node:fs';
import { NiftyNetConfigError } from './errors';

export interface IniValue {
  value: string;
  /** 1-based line of the key. */
  line: number;
}

export interface IniSection {
  name: string;
  /** 1-based line of the `[name]` header. */
  line: number;
  /** Lower-cased key → value, [DEFAULT]'s keys first (as configparser's items()), then the section's in file order. */
  values: Map<string, IniValue>;
}

export interface IniFile {
  file: string;
  /** Sections in file order, without DEFAULT. */
  sections: IniSection[];
}

const DEFAULT_SECTION = 'DEFAULT';
const SECTION = /^\[(.+)\]/;
const OPTION = /^(.*?)\s*([=:])\s*(.*)$/;
const MAX_INTERPOLATION_DEPTH = 10;

interface RawSection {
  name: string;
  line: number;
  values: Map<string, { lines: string[]; line: number }>;
}

/** configparser's _read: the raw (uninterpolated) values. */
function readRaw(file: string, text: string): { defaults: RawSection; sections: RawSection[] } {
  const defaults: RawSection = { name: DEFAULT_SECTION, line: 0, values: new Map() };
  const sections: RawSection[] = [];
  let current: RawSection | null = null;
  let key: string | null = null;
  let indentOfKey = Number.MAX_SAFE_INTEGER;
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const isComment = /^\s*[#;]/.test(raw);
    const value = isComment ? '' : raw.trim();
    if (!value) {
      // An empty line inside a multi-line value is kept (empty_lines_in_values); a comment line is not.
      if (!isComment && current && key !== null) current.values.get(key)?.lines.push('');
      return;
    }
    const indent = raw.search(/\S/);
    if (current && key !== null && indent > indentOfKey) {
      current.values.get(key)!.lines.push(value);
      return;
    }
    indentOfKey = indent;
    const header = SECTION.exec(value);
    if (header) {
      const name = header[1];
      if (name === DEFAULT_SECTION) current = defaults;
      else {
        const earlier = sections.find((s) => s.name === name);
        if (earlier) throw new NiftyNetConfigError(`${file}:${line}: section [${name}] again (first on line ${earlier.line})`, { file, fix: 'merge the two sections into one: NiftyNet (Python configparser) refuses a repeated section' });
        current = { name, line, values: new Map() };
        sections.push(current);
      }
      key = null;
      return;
    }
    if (!current) throw new NiftyNetConfigError(`${file}:${line}: a value before any [section] header`, { file, fix: 'start the file with a section such as [TRAINING]' });
    const option = OPTION.exec(value);
    if (!option || !option[1].trim()) {
      throw new NiftyNetConfigError(`${file}:${line}: not a "key = value" line: ${JSON.stringify(raw.trim())}`, { file, fix: 'write key = value, or start the line with # to make it a comment' });
    }
    key = option[1].trimEnd().toLowerCase();
    const earlier = current.values.get(key);
    if (earlier) throw new NiftyNetConfigError(`${file}:${line}: ${key} is set again in [${current.name}] (first on line ${earlier.line})`, { file, field: `${current.name}.${key}`, fix: 'keep one of the two lines: NiftyNet (Python configparser) refuses a repeated key' });
    current.values.set(key, { lines: [option[3].trim()], line });
  });
  return { defaults, sections };
}

/** BasicInterpolation.before_get for one value of `section`. */
function interpolate(file: string, section: RawSection, defaults: RawSection, key: string, depth = 1): string {
  const entry = section.values.get(key) ?? defaults.values.get(key)!;
  const raw = entry.lines.join('\n').trimEnd();
  const where = `${file}:${entry.line}: [${section.name}] ${key}`;
  if (depth > MAX_INTERPOLATION_DEPTH) throw new NiftyNetConfigError(`${where}: %(…)s references nest more than ${MAX_INTERPOLATION_DEPTH} deep (a cycle?)`, { file, field: `${section.name}.${key}`, fix: 'break the cycle of %(name)s references' });
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const at = raw.indexOf('%', i);
    if (at < 0) {
      out += raw.slice(i);
      break;
    }
    out += raw.slice(i, at);
    if (raw[at + 1] === '%') {
      out += '%';
      i = at + 2;
      continue;
    }
    const ref = /^%\(([^)]+)\)s/.exec(raw.slice(at));
    if (!ref) {
      throw new NiftyNetConfigError(`${where}: a lone '%' (at column ${at + 1} of the value): configparser reads '%' as the start of %(name)s`, {
        file, field: `${section.name}.${key}`, fix: "write '%%' for a literal percent sign",
      });
    }
    const name = ref[1].toLowerCase();
    if (!section.values.has(name) && !defaults.values.has(name)) {
      throw new NiftyNetConfigError(`${where}: %(${ref[1]})s names no key of [${section.name}] or [DEFAULT]`, { file, field: `${section.name}.${key}`, fix: `define ${name}, or write '%%' for a literal percent sign` });
    }
    out += interpolate(file, section, defaults, name, depth + 1);
    i = at + ref[0].length;
  }
  return out;
}

export function parseIni(file: string, text: string): IniFile {
  const { defaults, sections } = readRaw(file, text);
  return {
    file,
    sections: sections.map((s) => {
      // configparser's order: [DEFAULT]'s keys first (a section may override their values), then the section's own.
      const keys = [...defaults.values.keys(), ...[...s.values.keys()].filter((k) => !defaults.values.has(k))];
      const values = new Map(keys.map((k) => [k, { value: interpolate(file, s, defaults, k), line: (s.values.get(k) ?? defaults.values.get(k)!).line }]));
      return { name: s.name, line: s.line, values };
    }),
  };
}

export function readIni(file: string): IniFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new NiftyNetConfigError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { file, fix: 'check the path of the .ini file' });
  }
  return parseIni(file, text);
}
