/**
 * A NiftyNet input section without a csv_file: the files found in `path_to_search` folders by `filename_contains` /
 * `filename_not_contains`, each given a subject id, as NiftyNet 0.6.0 does it for one section
 * (utilities/filename_matching.py KeywordsMatching, utilities/util_csv.py match_and_write_filenames_to_csv):
 * - a candidate is any name in a folder (sorted) that contains every `filename_contains` string and none of the
 *   `filename_not_contains` ones;
 * - its possible ids are its name less the extension (`.nii.gz` or the last `.xxx`) with the `filename_removefromid`
 *   regex removed, or else split at every `filename_contains` string, each part's non-word characters removed, empty
 *   parts dropped and, when there are several, all parts joined as one more;
 * - two candidates whose first ids are equal are an error (NiftyNet raises); an id several candidates could have is
 *   nobody's, and a candidate is known by its first id left, or left out.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NiftyNetSearch } from '../pipeline/plan';
import { compilePattern } from '../selection/pattern';
import { DataError } from './errors';

/** NiftyNet's lists and tuples (`T1, T2`, `(96, 96, 96)`): brackets dropped, split at commas, parts trimmed, empty ones dropped. */
export function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : value.replace(/[()[\]]/g, '').split(',')).map((s) => s.trim()).filter(Boolean);
}

/** misc_io.split_filename's base name: `.nii.gz` (and `.tar.gz`) as one extension, else os.path.splitext's. */
function stemOf(fileName: string): string {
  for (const ext of ['.nii.gz', '.tar.gz']) {
    if (fileName.toLowerCase().endsWith(ext)) return fileName.length > ext.length ? fileName.slice(0, -ext.length) : '';
  }
  const dot = fileName.lastIndexOf('.');
  // os.path.splitext ignores leading dots (".hidden" has no extension).
  return dot > 0 && fileName.slice(0, dot).replace(/^\.+/, '') !== '' ? fileName.slice(0, dot) : fileName;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function possibleIds(fileName: string, contains: string[], removeFromId: RegExp | null): string[] {
  const stem = stemOf(fileName);
  let names: string[];
  if (removeFromId) names = [stem.replace(removeFromId, '')];
  else {
    const parts = contains.length > 0 ? stem.split(new RegExp(contains.map(escape).join('|'))) : [stem];
    // Python's \W with str patterns is Unicode-aware: keep letters, digits and underscores of any script.
    names = parts.map((p) => p.replace(/[^\p{L}\p{N}_]+/gu, ''));
  }
  names = names.filter(Boolean);
  return names.length > 1 ? [...names, names.join('')] : names;
}

/**
 * NiftyNet 0.6.0 drops the candidates without an id while it iterates over the lists it removes them from
 * (matching_subjects_and_filenames): the candidate just after a dropped one is not looked at, and stays even without
 * an id (it is left out later, having no name). Kept as NiftyNet does it, so that the same folders give the same cases.
 */
function dropWithoutIds(candidates: Array<{ file: string; ids: string[] }>): Array<{ file: string; ids: string[] }> {
  // Two lists, as NiftyNet has them: list.remove([]) takes the first empty id list, which need not be this file's.
  const ids = candidates.map((c) => c.ids);
  const files = candidates.map((c) => c.file);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i].length > 0) continue;
    const file = files[i];
    ids.splice(ids.findIndex((n) => n.length === 0), 1);
    files.splice(files.indexOf(file), 1);
  }
  return files.map((file, i) => ({ file, ids: ids[i] }));
}

/** Subject id → file, in NiftyNet's row order, for the section `name` (`field` for messages). */
export function searchSection(search: NiftyNetSearch, name: string, field: string): Map<string, string> {
  const folders = [...new Set(listOf(search.path_to_search))].sort();
  if (folders.length === 0) throw new DataError(`section [${name}] has an empty path_to_search`, { field, fix: 'name the folders holding the section\'s files' });
  const contains = [...new Set(listOf(search.filename_contains))];
  const notContains = [...new Set(listOf(search.filename_not_contains))];
  const removeText = listOf(search.filename_removefromid)[0];
  const removeFromId = removeText === undefined ? null : new RegExp(compilePattern(removeText, { field: `${field.replace(/path_to_search$/, 'filename_removefromid')}` }).regex.source, 'g');
  const found: Array<{ file: string; ids: string[] }> = [];
  for (const folder of folders) {
    if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
      throw new DataError(`section [${name}]: data input folder ${folder} not found`, { file: folder, field, fix: 'check path_to_search (relative paths are relative to the pipeline file)' });
    }
    for (const entry of readdirSync(folder).sort()) {
      if (!contains.every((c) => entry.includes(c)) || notContains.some((c) => entry.includes(c))) continue;
      found.push({ file: path.join(folder, entry), ids: possibleIds(entry, contains, removeFromId) });
    }
  }
  const candidates = dropWithoutIds(found);
  const firstIds = new Map<string, string>();
  for (const c of candidates) {
    if (c.ids.length === 0) continue;
    const other = firstIds.get(c.ids[0]);
    if (other !== undefined) {
      throw new DataError(`section [${name}]: files ${other} and ${c.file} both have subject id ${c.ids[0]} (the name less the filename_contains strings)`, {
        field, fix: 'rename one of them, narrow filename_contains / filename_not_contains, or give a filename_removefromid regex',
      });
    }
    firstIds.set(c.ids[0], c.file);
  }
  const count = new Map<string, number>();
  for (const c of candidates) for (const id of c.ids) count.set(id, (count.get(id) ?? 0) + 1);
  const subjects = new Map<string, string>();
  for (const c of candidates) {
    const id = c.ids.find((i) => count.get(i) === 1);
    if (id !== undefined) subjects.set(id, c.file);
  }
  if (subjects.size === 0) {
    throw new DataError(`section [${name}]: no file in ${folders.join(', ')} matches filename_contains ${JSON.stringify(contains)} and filename_not_contains ${JSON.stringify(notContains)} with a subject id of its own`, {
      field, fix: 'check the folders and the filename_contains / filename_not_contains strings (ids are file names less those strings)',
    });
  }
  return subjects;
}
