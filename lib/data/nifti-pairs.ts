/**
 * Finds the image/label file pairs of a NIfTI data config:
 * - `images` (a glob) + `label_suffix` (default `_label`): the label of `case1.nii.gz` is `case1_label.nii.gz` (the
 *   suffix goes before the extension; a suffix that itself ends in `.nii`/`.nii.gz` replaces the extension). Files
 *   the glob matches that are themselves labels are skipped.
 * - `csv`: a CSV with a header row containing the columns `image` and `label` (others ignored); its paths are
 *   relative to the CSV's own folder, so a data folder with its CSV can be moved as a whole.
 * `images` and `csv` themselves are relative to baseDir (the pipeline YAML's folder).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DataError } from './errors';
import type { NiftiDataConfig } from '../pipeline/plan';
import { globFiles } from './glob';

export interface ImageLabelPair {
  image: string;
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

function pairsFromGlob(pattern: string, suffix: string, baseDir: string): ImageLabelPair[] {
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
    return { image, label };
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

function pairsFromCsv(csvFile: string): ImageLabelPair[] {
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
    return { image, label };
  });
  if (pairs.length === 0) throw new DataError(`${csvFile} lists no image/label pairs`, { file: csvFile, fix: 'add rows of image,label paths' });
  return pairs;
}

export function findImageLabelPairs(config: NiftiDataConfig, baseDir: string): ImageLabelPair[] {
  if (config.csv && config.images) {
    throw new DataError('data gives both csv and images', { field: 'data', fix: 'use either csv (image,label columns) or images + label_suffix' });
  }
  if (config.csv) return pairsFromCsv(path.resolve(baseDir, config.csv));
  if (config.images) return pairsFromGlob(config.images, config.label_suffix ?? DEFAULT_LABEL_SUFFIX, baseDir);
  throw new DataError('NIfTI data needs either csv or images', { field: 'data', fix: 'set data.images (a glob such as data/*.nii.gz) or data.csv' });
}
