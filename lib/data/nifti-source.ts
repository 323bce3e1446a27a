/**
 * NIfTI cases as a DataSource: random crops of `spatial_size`, each a pure function of
 * (seed, iteration, sample index) — which case, and where. Axes keep NIfTI/nibabel order: a crop is
 * [x, y, (z), channel] with the channel last, the same indexing as nibabel's `img.get_fdata()[x, y, z]`.
 *
 * A 2-D spatial_size reads images whose third dimension is 1; NIfTI dimensions 4 and up are image channels
 * (modalities), and a case of several image files (NiftyNet's sections T1, T2, ...) has their channels in file order;
 * labels have one channel. All headers are checked when the source is built (sizes, types, crop fits),
 * and every label map is read once (values must be class indices), so a bad data set fails before training starts.
 * Images are read on first use, normalised, and kept with their labels in a cache of `cacheMb` MB (settings:
 * THAW_DATA_CACHE_MB, default 1024).
 */
import { DataError } from './errors';
import type { NiftiDataConfig } from '../pipeline/plan';
import { DEFAULT_DATA_CACHE_MB } from '../settings';
import { readNifti, readNiftiHeader, type NiftiHeader } from './nifti';
import { findNiftiCases, type NiftiCase } from './nifti-cases';
import { normaliseChannels } from './normalise';
import { Purpose, sampleStream } from './random';
import { drawOrigin, originTable, type OriginTable } from './window-sampling';
import type { Batch, DataSource } from './source';

interface Geometry {
  /** x, y, z (z = 1 for 2-D images). */
  spatial: [number, number, number];
  channels: number;
}

interface LoadedCase {
  /** Normalised intensities in crop layout: C order [x, y, z, channel] (channel fastest). */
  image: Float32Array;
  /** C order [x, y, z]. */
  labels: Int32Array;
  /** How window origins are drawn from this case (null: uniformly). */
  origins: OriginTable | null;
}

/**
 * File order (x fastest, channel slowest) to C order [x, y, z, c], once per loaded volume, so that every crop is a
 * set of contiguous z-runs (a crop straight from file order is a cache-hostile transpose: ~10x slower).
 */
function toCropLayout<T extends Float32Array | Int32Array>(data: T, g: Geometry, make: (n: number) => T): T {
  const [X, Y, Z] = g.spatial;
  const C = g.channels;
  const out = make(data.length);
  for (let c = 0, i = 0; c < C; c++) {
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < Y; y++) {
        for (let x = 0; x < X; x++, i++) out[((x * Y + y) * Z + z) * C + c] = data[i];
      }
    }
  }
  return out;
}

function geometryOf(header: NiftiHeader): Geometry {
  const d = header.dims;
  return { spatial: [d[0], d[1] ?? 1, d[2] ?? 1], channels: d.slice(3).reduce((a, b) => a * b, 1) };
}

function shapeText(g: Geometry): string {
  return `${g.spatial.join('×')}${g.channels > 1 ? ` with ${g.channels} channels` : ''}`;
}

function checkCase(c: NiftiCase, crop: number[]): Geometry {
  const images = c.images.map((file) => geometryOf(readNiftiHeader(file)));
  const image = images[0];
  const label = geometryOf(readNiftiHeader(c.label));
  const fail = (file: string, what: string, fix: string) => new DataError(`${file}: ${what}`, { file, fix });
  const other = images.findIndex((g) => g.spatial.some((s, i) => s !== image.spatial[i]));
  if (other > 0) {
    throw fail(c.images[other], `size ${shapeText(images[other])} differs from ${c.images[0]} (${shapeText(image)}) of the same subject ${c.subject}`, 'resample every modality of a subject to one grid');
  }
  if (crop.length === 2 && image.spatial[2] !== 1) {
    throw fail(c.images[0], `is 3-D (${shapeText(image)}) but spatial_size has 2 numbers`, 'give spatial_size 3 numbers (e.g. [64, 64, 1] for slices)');
  }
  if (label.channels !== 1) throw fail(c.label, `a label image must have one channel, this one is ${shapeText(label)}`, 'store one label map per image');
  if (label.spatial.some((s, i) => s !== image.spatial[i])) {
    throw fail(c.label, `label size ${shapeText(label)} differs from its image ${c.images[0]} (${shapeText(image)})`, 'resample the label to the image grid');
  }
  if (crop.some((size, i) => size > image.spatial[i])) {
    throw fail(c.images[0], `image ${shapeText(image)} is smaller than the crop spatial_size [${crop.join(', ')}]`, 'use a smaller spatial_size or pad the image');
  }
  return { spatial: image.spatial, channels: images.reduce((n, g) => n + g.channels, 0) };
}

/** A label map as class indices; refuses values that are not integers in [0, numClasses). */
function readLabels(file: string, numClasses: number | null): Int32Array {
  const raw = readNifti(file).data;
  const labels = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    if (!(Number.isInteger(v) && v >= 0 && (numClasses === null || v < numClasses))) {
      const tooLarge = Number.isInteger(v) && v >= 0;
      throw new DataError(tooLarge
        ? `${file}: label value ${v} at voxel ${i} is not below data.num_classes (${numClasses})`
        : `${file}: label value ${v} at voxel ${i} is not a class index (labels must be non-negative integers)`, {
        file,
        field: tooLarge ? 'data.num_classes' : undefined,
        fix: tooLarge ? 'raise num_classes, or fix the label map' : 'store class indices 0, 1, 2, ... in the label map (not probabilities or intensities)',
      });
    }
    labels[i] = v;
  }
  return labels;
}

/** The case's image files one after another: file order with the channel slowest, as one file of all channels. */
function readImages(files: string[]): Float32Array {
  const parts = files.map((file) => readNifti(file).data);
  if (parts.length === 1) return parts[0];
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  return all;
}

function loadCase(c: NiftiCase, geometry: Geometry, config: NiftiDataConfig, window: number[], numClasses: number): LoadedCase {
  const image = readImages(c.images);
  normaliseChannels(image, geometry.channels, config.normalisation);
  const labels = toCropLayout(readLabels(c.label, numClasses), { ...geometry, channels: 1 }, (n) => new Int32Array(n));
  return {
    image: toCropLayout(image, geometry, (n) => new Float32Array(n)),
    labels,
    origins: originTable(config.window_sampling ?? 'uniform', labels, geometry.spatial, window),
  };
}

const bytesOf = (v: LoadedCase) => v.image.byteLength + v.labels.byteLength + (v.origins?.bytes ?? 0);

/** A small least-recently-used cache bounded by bytes. */
class VolumeCache {
  private readonly entries = new Map<number, LoadedCase>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  get(key: number, load: () => LoadedCase): LoadedCase {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = load();
    this.entries.set(key, value);
    this.bytes += bytesOf(value);
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.budget || k === key) break;
      this.entries.delete(k);
      this.bytes -= bytesOf(v);
    }
    return value;
  }
}

export function makeNiftiSource(config: NiftiDataConfig, seed: number, baseDir: string, cacheMb = DEFAULT_DATA_CACHE_MB): DataSource {
  const crop = config.spatial_size;
  if ((crop.length !== 2 && crop.length !== 3) || !crop.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new DataError(`spatial_size must be 2 or 3 positive integers, got [${crop.join(', ')}]`, { field: 'data.spatial_size', fix: 'e.g. spatial_size: [64, 64, 64]' });
  }
  const cases = findNiftiCases(config, baseDir);
  const geometries = cases.map((c) => checkCase(c, crop));
  const channels = geometries[0].channels;
  const odd = geometries.findIndex((g) => g.channels !== channels);
  if (odd >= 0) {
    throw new DataError(`${cases[odd].images[0]}: has ${geometries[odd].channels} channels, ${cases[0].images[0]} has ${channels}`, { file: cases[odd].images[0], fix: 'give every image the same channels (modalities)' });
  }
  // Every label map is read once now: bad values fail before training, and num_classes can default to what is there.
  let maxLabel = 1;
  for (const c of cases) for (const v of readLabels(c.label, config.num_classes ?? null)) if (v > maxLabel) maxLabel = v;
  const numClasses = config.num_classes ?? maxLabel + 1;
  const cache = new VolumeCache(cacheMb * 2 ** 20);
  const crop3 = [crop[0], crop[1], crop[2] ?? 1];
  const load = (i: number) => cache.get(i, () => loadCase(cases[i], geometries[i], config, crop3, numClasses));

  const cropVoxels = crop3[0] * crop3[1] * crop3[2];
  return {
    numClasses,
    channels,
    spatialSize: [...crop],
    batch(iteration: number, batchSize: number): Batch {
      const images = new Float32Array(batchSize * cropVoxels * channels);
      const labels = new Int32Array(batchSize * cropVoxels);
      for (let b = 0; b < batchSize; b++) {
        const rng = sampleStream(seed, iteration, b, Purpose.niftiPick);
        const index = rng.int(cases.length);
        const [, Y, Z] = geometries[index].spatial;
        const vol = load(index);
        const origin = drawOrigin(rng, vol.origins, geometries[index].spatial, crop3);
        // Source and crop share the C-order layout: copy one contiguous z-run per (x, y).
        const [cx, cy, cz] = crop3;
        for (let x = 0; x < cx; x++) {
          for (let y = 0; y < cy; y++) {
            const src = ((origin[0] + x) * Y + origin[1] + y) * Z + origin[2];
            const out = b * cropVoxels + (x * cy + y) * cz;
            for (let z = 0; z < cz; z++) labels[out + z] = vol.labels[src + z];
            const run = cz * channels;
            for (let k = 0, i = src * channels, o = out * channels; k < run; k++) images[o + k] = vol.image[i + k];
          }
        }
      }
      return { images, labels, shape: [batchSize, ...crop, channels] };
    },
  };
}
