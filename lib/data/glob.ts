/**
 * A small file glob (Node 20 has no fs.glob): `*` and `?` within one path segment, `[abc]` / `[a-z]` classes, and
 * `**` for any number of folders. Returns sorted absolute paths of files (not folders). Hidden names are matched
 * only by patterns that spell out the leading dot.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = segment.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const hasMagic = (segment: string) => /[*?[]/.test(segment);

function listDir(dir: string): { name: string; isDir: boolean }[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((e) => ({
      name: e.name,
      isDir: e.isDirectory() || (e.isSymbolicLink() && statSync(path.join(dir, e.name), { throwIfNoEntry: false })?.isDirectory() === true),
    }));
  } catch {
    return [];
  }
}

function walk(dir: string, segments: string[], out: Set<string>): void {
  if (segments.length === 0) return;
  const [first, ...rest] = segments;
  if (first === '**') {
    walk(dir, rest, out); // zero folders
    for (const e of listDir(dir)) if (e.isDir && !e.name.startsWith('.')) walk(path.join(dir, e.name), segments, out);
    return;
  }
  if (!hasMagic(first)) {
    const next = path.join(dir, first);
    if (rest.length > 0) walk(next, rest, out);
    else if (statSync(next, { throwIfNoEntry: false })?.isFile()) out.add(next);
    return;
  }
  const re = segmentRegExp(first);
  for (const e of listDir(dir)) {
    if (e.name.startsWith('.') && !first.startsWith('.')) continue;
    if (!re.test(e.name)) continue;
    const next = path.join(dir, e.name);
    if (rest.length > 0) {
      if (e.isDir) walk(next, rest, out);
    } else if (!e.isDir) out.add(next);
  }
}

/** Files matching `pattern` (relative patterns resolve against `baseDir`), sorted. */
export function globFiles(pattern: string, baseDir: string): string[] {
  const absolute = path.resolve(baseDir, pattern);
  const root = path.parse(absolute).root;
  const segments = absolute.slice(root.length).split(path.sep).filter((s) => s.length > 0);
  const out = new Set<string>();
  walk(root, segments, out);
  return [...out].sort();
}
