/**
 * Hostile YAML through `thaw check` (the CLI's dispatcher, in this process): alias bombs, undefined and circular
 * aliases, deep nesting, tags and values JSON cannot hold. Each is one `error:` line with the file and line:column,
 * exit 1, and no stack trace; each finishes within the test's timeout (they took a stack overflow, exit 70 or
 * "Excessive alias count" before).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_PIPELINE_BYTES } from '../lib/pipeline/limits';
import { runMainInProcess } from './helpers/cli';

const BASE = `name: demo
network: {name: toynet, params: {dims: 2, hidden_features: 4}}
data: {kind: synthetic, task: A, spatial_size: [8, 8]}
stages:
  - name: a
    iterations: 10
`;

/** Nine levels of nine aliases each: 9^9 nodes when expanded. */
function laughs(indent: string, first: string): string {
  const lines = [`${indent}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]`];
  for (let i = 1; i < 9; i++) lines.push(`${indent}l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]`);
  return `${first}${lines.join('\n')}\n`;
}

const CASES: Record<string, { text: string; line: number; message: RegExp }> = {
  bombTop: { text: laughs('', '') + BASE, line: 5, message: /YAML aliases expand the document by more than 10000 nodes/ },
  bombParams: {
    text: BASE.replace('network: {name: toynet, params: {dims: 2, hidden_features: 4}}', laughs('    ', 'network:\n  name: toynet\n  params:\n')),
    line: 9,
    message: /network\.params\.l4\[0\]: YAML aliases expand the document/,
  },
  undefinedAlias: { text: `${BASE}seed: *nope\n`, line: 7, message: /seed: YAML alias \*nope has no anchor &nope before it/ },
  circularAlias: { text: `${BASE}seed: &x [*x]\n`, line: 7, message: /seed\[0\]: YAML alias \*x refers to the collection that contains it/ },
  flow5000: { text: `${BASE}seed: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, line: 7, message: /YAML nesting deeper than 64 levels/ },
  block1000: { text: `${BASE}seed:\n${Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')}\n`, line: 72, message: /YAML nesting deeper than 64 levels/ },
  list100k: { text: `${BASE}seed:\n${'- '.repeat(100_000)}1\n`, line: 8, message: /YAML nesting deeper than 64 levels/ },
  flowMiB: { text: '['.repeat(MAX_PIPELINE_BYTES - 1), line: 1, message: /YAML nesting deeper than 64 levels/ },
  binaryTag: { text: `${BASE}seed: !!binary aGVsbG8=\n`, line: 7, message: /YAML: Unresolved tag: tag:yaml\.org,2002:binary/ },
  listKey: { text: `${BASE}? [a, b]\n: 1\n`, line: 7, message: /a YAML key must be a plain name/ },
  twoDocuments: { text: `${BASE}---\n${BASE}`, line: 7, message: /more than one document/ },
  nan: { text: BASE.replace('iterations: 10', 'iterations: 10\n    lr: .nan'), line: 7, message: /stages\[0\]\.lr: \.nan is not a number a pipeline can use/ },
  unsafeInteger: { text: BASE.replace('iterations: 10', 'iterations: 9007199254740993'), line: 6, message: /stages\[0\]\.iterations: 9007199254740993 is beyond the numbers a pipeline holds exactly/ },
  nulInString: { text: BASE.replace('task: A', 'task: "A\\0"'), line: 3, message: /data\.task: contains a NUL character/ },
};

let dir: string;
const file = (name: string) => path.join(dir, `${name}.yaml`);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'thaw-check-yaml-'));
  for (const [name, { text }] of Object.entries(CASES)) await writeFile(file(name), text);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hostile YAML: one line with file and line:column, exit 1', () => {
  for (const [name, { line, message }] of Object.entries(CASES)) {
    it(name, { timeout: 20_000 }, async () => {
      const { code, stdout, stderr } = await runMainInProcess(['check', file(name)]);
      assert.equal(code, 1, stdout + stderr);
      assert.equal(stderr, '');
      const errors = stdout.split('\n').filter((l) => l.startsWith('error:'));
      assert.equal(errors.length, 1, stdout);
      const escaped = file(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(errors[0], new RegExp(`^error: ${escaped}:${line}:\\d+: `), stdout);
      assert.match(errors[0], message);
      assert.ok(stdout.endsWith(`${file(name)}: NOT runnable (1 error, 0 warnings)\n`), stdout);
      assert.doesNotMatch(stdout, /\n\s+at .*:\d+:\d+/);
    });
  }

  it('a YAML 1.1 directive changes nothing: yes stays a string, no merge keys, no sexagesimals', async () => {
    await writeFile(file('yaml11'), `%YAML 1.1\n---\n${BASE}seed: 1:20\n`);
    const { code, stdout } = await runMainInProcess(['check', file('yaml11')]);
    assert.equal(code, 1);
    assert.match(stdout, /yaml11\.yaml:9:7: seed: must be integer \(got "1:20"\)/);
  });
});

describe('pipeline files thaw does not read', () => {
  it('a file over the size limit, a folder, a FIFO and /dev/zero: one line each, at once', { timeout: 20_000 }, async () => {
    await writeFile(file('huge'), `${BASE}${'# padding\n'.repeat(MAX_PIPELINE_BYTES / 10 + 1)}`);
    execFileSync('mkfifo', [path.join(dir, 'fifo.yaml')]);
    const cases: Array<[string, RegExp]> = [
      [file('huge'), /huge\.yaml: the pipeline is 1\.0 MiB, more than thaw reads \(1\.0 MiB\)/],
      [dir, /: cannot read the pipeline: it is a folder, not a file/],
      [path.join(dir, 'fifo.yaml'), /fifo\.yaml: cannot read the pipeline: it is not a regular file/],
      ['/dev/zero', /\/dev\/zero: cannot read the pipeline: it is not a regular file/],
    ];
    for (const [target, message] of cases) {
      const { code, stdout } = await runMainInProcess(['check', target]);
      assert.equal(code, 1, stdout);
      assert.match(stdout, message);
    }
  });
});
