/**
 * thaw reads NiftyNet .ini files as NiftyNet does: with Python's configparser. Every real config in the fixtures and
 * a set of edge cases (continuations, comments, DEFAULT, %-interpolation, duplicates) are read by both, and thaw's
 * sections, keys and values must equal configparser's; where configparser refuses a file, thaw must refuse it too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { isUserError } from '../lib/errors';
import { readIni } from '../lib/niftynet/ini';
import { SHARED_DIR } from './helpers/fixtures';
import { runPython } from './helpers/python';

const FIXTURES = path.join(SHARED_DIR, 'fixtures', 'niftynet');

function iniFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return iniFiles(file);
    return name.endsWith('.ini') ? [file] : [];
  });
}

/** Edge cases, each a file configparser reads or refuses. */
const EDGE_CASES: Record<string, string> = {
  continuation: '[A]\nkey = first\n  second\n\n  third\nother: x = y\n',
  comments: '# top\n[A]\n; semi\nkey = value # not a comment\n  # indented comment\nempty =\n',
  defaults: '[DEFAULT]\nroot = /data\n[A]\npath = %(root)s/t1\npercent = 50%%\n[B]\nroot = /other\npath = %(ROOT)s/t2\n',
  caseAndSpacing: '[Sec tion]\nKeY=v\n   \n[x]\nk :v:w\n',
  duplicateKey: '[A]\nk = 1\nK = 2\n',
  duplicateSection: '[A]\nk = 1\n[A]\nj = 2\n',
  noHeader: 'k = 1\n[A]\n',
  lonePercent: '[A]\nk = 5%\n',
  missingReference: '[A]\nk = %(nothing)s\n',
  notAnOption: '[A]\njust words\n',
  crlf: '[A]\r\nk = 1\r\n  2\r\n',
};

test('NiftyNet .ini files read as Python configparser reads them (the real configs and edge cases)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-ini-'));
  const edge = Object.entries(EDGE_CASES).map(([name, text]) => {
    const file = path.join(dir, `${name}.ini`);
    writeFileSync(file, text);
    return file;
  });
  const real = iniFiles(FIXTURES);
  assert.ok(real.length >= 12, `the fixtures hold NiftyNet configs (found ${real.length})`);
  const files = [...real, ...edge];
  const reference = JSON.parse(await runPython('ini_reference.py', files)) as Array<{ file: string; sections?: [string, [string, string][]][]; error?: string }>;
  for (const ref of reference) {
    let ours: { sections?: [string, [string, string][]][]; error?: string };
    try {
      ours = { sections: readIni(ref.file).sections.map((s) => [s.name, [...s.values].map(([k, v]) => [k, v.value])]) };
    } catch (err) {
      assert.ok(isUserError(err), `${ref.file}: ${String(err)}`);
      assert.match(err.message, new RegExp(`^${ref.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `), 'the message starts with file:line');
      ours = { error: 'refused' };
    }
    if (ref.error) assert.equal(ours.error, 'refused', `${path.basename(ref.file)}: configparser raises ${ref.error}, thaw read it`);
    else assert.deepEqual(ours.sections, ref.sections, path.basename(ref.file));
  }
  assert.ok(reference.filter((r) => r.error).length >= 6, 'the refusals are exercised');
});
