/**
 * Finds the cases (image files, one per channel group, and a label) of a NIfTI data config:
 * - `images` (a glob) + `label_suffix` (default `_label`): the label of `case1.nii.gz` is `case1_label.nii.gz` (the
 *   suffix goes before the extension; a suffix that itself ends in `.nii`/`.nii.gz` replaces the extension). Files
 *   the glob matches that are themselves labels are skipped.
 * - `csv`: a CSV with a header row containing the columns `image` and `label` (others ignored); its paths are
 *   relative to the CSV's own folder, so a data folder with its CSV can be moved as a whole.
 * - `inputs` + `image` + `label`: NiftyNet's input sections, each a `csv_file` of `subject_id,path` rows without a
 *   header (NiftyNet reads them with pandas, header=None, skipinitialspace), joined on the subject id; the sections
 *   named in `image` become the channels in that order. With NiftyNet's `dataset_split_file` (subject_id,phase rows)
 *   only the `training` subjects are cases.
 * `images`, `csv` and the sections' files are relative to baseDir (the pipeline YAML's folder) when the loader has
 * not resolved them already.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DataError } from './errors';
import type { NiftiDataConfig, NiftiInputSection } from '../pipeline/plan';
import { listOf, searchSection } from './niftynet-search';
import { globFiles } from './glob';

/** One training case: its image files (their channels, in order, are the network's input channels) and label map. */
export interface NiftiCase {
  /** The subject id (NiftyNet's sections), else the first image's path. */
  subject: string;
  images: string[];
  label: string;
}

export const DEFAULT_LABEL_SUFFIX = '_label';
const NIFTI_EXT = /(\.nii(\.gz)?)$/i;

function splitExtension(file: string): [stem: string, ext: string] {
  const m = NIFTI_EXT.exec(file);
  return m ? [file.slice(0, -m[1].length), m[1]] : [file, ''];
}

export function labelPathFor(image: string, suffix: string): string {
  const [stem, ext] = splitExtension(image);
  return NIFTI_EXT.test(suffix) ? stem + suffix : stem + suffix + ext;
}

function isLabelFile(file: string, suffix: string): boolean {
  const [suffixStem] = splitExtension(suffix);
  return splitExtension(file)[0].endsWith(suffixStem);
}

function casesFromGlob(pattern: string, suffix: string, baseDir: string): NiftiCase[] {
  const images = globFiles(pattern, baseDir).filter((f) => NIFTI_EXT.test(f) && !isLabelFile(f, suffix));
  if (images.length === 0) {
    throw new DataError(`no NIfTI images match '${pattern}' (resolved against ${baseDir})`, {
      field: 'data.images',
      fix: 'check the pattern; it is relative to the pipeline file, e.g. images: data/*.nii.gz',
    });
  }
  return images.map((image) => {
    const label = labelPathFor(image, suffix);
    if (!existsSync(label)) {
      throw new DataError(`${image}: its label file ${label} does not exist`, {
        file: image,
        field: 'data.label_suffix',
        fix: `add the label file, or set label_suffix to what your label files are named with (now '${suffix}')`,
      });
    }
    return { subject: image, images: [image], label };
  });
}

/** Splits one CSV line, honouring double quotes ("a,b" and "" escapes). */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += c;
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

function casesFromCsv(csvFile: string): NiftiCase[] {
  if (!existsSync(csvFile)) {
    throw new DataError(`CSV file ${csvFile} does not exist`, { file: csvFile, field: 'data.csv', fix: 'check the path (relative to the pipeline file)' });
  }
  const lines = readFileSync(csvFile, 'utf8').split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = lines.length > 0 ? splitCsvLine(lines[0]).map((h) => h.toLowerCase()) : [];
  const imageCol = header.indexOf('image');
  const labelCol = header.indexOf('label');
  if (imageCol < 0 || labelCol < 0) {
    throw new DataError(`${csvFile}: the first row must name the columns 'image' and 'label' (found: ${header.join(', ') || 'nothing'})`, {
      file: csvFile,
      fix: 'add a header row such as: image,label',
    });
  }
  const dir = path.dirname(csvFile);
  const pairs = lines.slice(1).map((line, i) => {
    const cells = splitCsvLine(line);
    const [image, label] = [cells[imageCol], cells[labelCol]].map((p) => (p ? path.resolve(dir, p) : ''));
    for (const [what, file] of [['image', image], ['label', label]] as const) {
      if (!file) throw new DataError(`${csvFile}:${i + 2}: the ${what} column is empty`, { file: csvFile, fix: 'give both an image and a label path on every row' });
      if (!existsSync(file)) throw new DataError(`${csvFile}:${i + 2}: ${what} file ${file} does not exist`, { file: csvFile, fix: 'paths are relative to the CSV file\'s folder' });
    }
    return { subject: image, images: [image], label };
  });
  if (pairs.length === 0) throw new DataError(`${csvFile} lists no image/label pairs`, { file: csvFile, fix: 'add rows of image,label paths' });
  return pairs;
}

/** Non-blank lines of a text file with their 1-based line numbers. */
function rowsOf(file: string, field: string): Array<{ line: number; cells: string[] }> {
  if (!existsSync(file)) throw new DataError(`${file} does not exist`, { file, field, fix: 'check the path (relative to the pipeline file)' });
  return readFileSync(file, 'utf8').split(/\r?\n/).flatMap((text, i) => (text.trim() ? [{ line: i + 1, cells: splitCsvLine(text) }] : []));
}

/** A NiftyNet section's csv_file: subject id → absolute file path, each row checked. */
function sectionFiles(name: string, csvFile: string): Map<string, { file: string; line: number | null }> {
  const field = `data.inputs.${name}.csv_file`;
  const files = new Map<string, { file: string; line: number | null }>();
  for (const { line, cells } of rowsOf(csvFile, field)) {
    const at = `${csvFile}:${line}`;
    if (cells.length !== 2 || !cells[0] || !cells[1]) {
      throw new DataError(`${at}: a row of section [${name}] must be subject_id,path (got ${cells.length} cell(s))`, { file: csvFile, field, fix: 'write one subject per row: its id, a comma, its NIfTI file (no header row)' });
    }
    const [subject, given] = cells;
    const earlier = files.get(subject);
    if (earlier) throw new DataError(`${at}: subject ${subject} is listed again (first on line ${earlier.line})`, { file: csvFile, field, fix: 'list each subject once per section' });
    const file = path.resolve(path.dirname(csvFile), given);
    if (!existsSync(file)) throw new DataError(`${at}: file ${file} of subject ${subject} does not exist`, { file: csvFile, field, fix: 'relative paths are relative to the CSV file\'s folder' });
    files.set(subject, { file, line });
  }
  if (files.size === 0) throw new DataError(`${csvFile} lists no subjects for section [${name}]`, { file: csvFile, field, fix: 'add rows of subject_id,path' });
  return files;
}

/** A section's subjects and files: its csv_file, or NiftyNet's folder search. */
function filesOf(name: string, section: NiftiInputSection, baseDir: string): Map<string, { file: string; line: number | null }> {
  if ('csv_file' in section) return sectionFiles(name, path.resolve(baseDir, section.csv_file));
  const folders = listOf(section.path_to_search).map((f) => path.resolve(baseDir, f));
  const found = searchSection({ ...section, path_to_search: folders }, name, `data.inputs.${name}.path_to_search`);
  return new Map([...found].map(([subject, file]) => [subject, { file, line: null }]));
}

const PHASES = ['training', 'validation', 'inference'] as const;
export type Phase = (typeof PHASES)[number];

/** NiftyNet's dataset_split_file: subject id → phase (NiftyNet lower-cases the phase and refuses unknown ones). */
export function readSplitFile(splitFile: string): Map<string, Phase> {
  const field = 'data.dataset_split_file';
  const phases = new Map<string, Phase>();
  for (const { line, cells } of rowsOf(splitFile, field)) {
    const phase = (cells[1] ?? '').toLowerCase() as Phase;
    if (cells.length !== 2 || !cells[0] || !PHASES.includes(phase)) {
      throw new DataError(`${splitFile}:${line}: a row must be subject_id,phase with phase one of ${PHASES.join(', ')} (got ${JSON.stringify(cells.join(','))})`, { file: splitFile, field, fix: 'fix the row as NiftyNet writes them, e.g. case_1,training' });
    }
    phases.set(cells[0], phase);
  }
  return phases;
}

function casesFromSections(config: NiftiDataConfig, baseDir: string, phase: Phase): NiftiCase[] {
  const inputs = config.inputs ?? {};
  const used = [...(config.image ?? []), ...(config.label === undefined ? [] : [config.label])];
  if (!config.image?.length || config.label === undefined) {
    throw new DataError('NIfTI data with inputs needs image (the sections that are channels) and label (the section of label maps)', { field: 'data', fix: 'e.g. image: [T1, T2] and label: label, as in NiftyNet\'s [SEGMENTATION] section' });
  }
  const unknown = used.find((name) => !(name in inputs));
  if (unknown !== undefined) {
    throw new DataError(`data names section ${unknown}, which data.inputs does not have (it has ${Object.keys(inputs).join(', ')})`, { field: 'data.inputs', fix: `add ${unknown}: {csv_file: ...} to data.inputs, or fix the name` });
  }
  const sections = new Map(used.map((name) => [name, filesOf(name, inputs[name], baseDir)]));
  // Subjects in the order of the first section the data uses, in the order of data.inputs (NiftyNet's: its first
  // input section in the file); with a split file sorted by id, as NiftyNet's merge with the split sorts them.
  const leading = Object.keys(inputs).find((name) => used.includes(name))!;
  const first = sections.get(leading)!;
  let subjects = [...first.keys()];
  if (config.dataset_split_file) {
    const splitFile = path.resolve(baseDir, config.dataset_split_file);
    const split = readSplitFile(splitFile);
    const missing = [...split.keys()].find((s) => !first.has(s));
    if (missing !== undefined) {
      throw new DataError(`${splitFile}: names subject ${missing}, which section [${leading}] does not list`, { file: splitFile, field: 'data.dataset_split_file', fix: `add ${missing} to section [${leading}], or remove its row from the split file` });
    }
    subjects = subjects.filter((s) => split.get(s) === phase).sort();
    if (subjects.length === 0) throw new DataError(`${splitFile}: no subject is in phase ${phase}`, { file: splitFile, field: 'data.dataset_split_file', fix: `mark some subjects ${phase}` });
  }
  return subjects.map((subject) => {
    const fileOf = (name: string) => {
      const entry = sections.get(name)!.get(subject);
      if (!entry) {
        throw new DataError(`subject ${subject} (of section [${leading}]) has no file in section [${name}]`, { field: `data.inputs.${name}`, fix: `give the subject a file in [${name}] (a row ${subject},<file> of its csv_file, or a file its search finds), or leave the subject out of the data` });
      }
      return entry.file;
    };
    return { subject, images: config.image!.map(fileOf), label: fileOf(config.label!) };
  });
}

/** The training cases of a NIfTI data config (see the module comment for the three ways to give them). */
export function findNiftiCases(config: NiftiDataConfig, baseDir: string): NiftiCase[] {
  const ways = [config.csv && 'csv', config.images && 'images', config.inputs && 'inputs'].filter(Boolean);
  if (ways.length > 1) {
    throw new DataError(`data gives ${ways.join(' and ')}`, { field: 'data', fix: 'use one of: csv (image,label columns), images + label_suffix, or inputs (NiftyNet sections) + image + label' });
  }
  if (config.inputs) return casesFromSections(config, baseDir, 'training');
  if (config.csv) return casesFromCsv(path.resolve(baseDir, config.csv));
  if (config.images) return casesFromGlob(config.images, config.label_suffix ?? DEFAULT_LABEL_SUFFIX, baseDir);
  throw new DataError('NIfTI data needs csv, images or inputs', { field: 'data', fix: 'set data.images (a glob such as data/*.nii.gz), data.csv, or data.inputs with image and label' });
}
