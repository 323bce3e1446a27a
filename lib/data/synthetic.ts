/**
 * Synthetic segmentation tasks, 2-D (spatial_size [H, W]) or 3-D ([D, H, W]), one channel, two classes
 * (0 = background, 1 = foreground). Every image: a smooth background (random offset and linear bias field), 1–4
 * separate objects, each either ROUND (disc / sphere) or a BAR (axis-aligned rectangle / cuboid, 4:1 in 2-D, with
 * the area / volume of a round object of the same radius, so shape rather than size tells them apart), brighter
 * than the background by a random contrast, plus Gaussian noise of a random level.
 *
 * Tasks (all share the image statistics above, so features learned on one help on the others):
 * - `A` — "bright blobs": segment every object (round and bars). High contrast. The pretraining task.
 * - `B` — "round among bars": segment only the round objects; bars are distractors. Same contrast as A. A network
 *         pretrained on A already finds every object and only has to learn to drop the bars, so fine-tuning A → B
 *         beats training B from scratch for the same small number of iterations. Measured with a 5-layer
 *         encoder-decoder (tfjs-node, 48×48, batch 8, Adam 3e-3): B from scratch, 60 iterations: Dice 0.00; A for
 *         300 then B for 60: Dice 0.75; B from scratch for 360: Dice 0.87 (so B is learnable, not just A's answer).
 * - `C` — "faint blobs": task A at low contrast and higher noise (a domain shift of the same structure).
 *
 * Sample j of iteration i is a pure function of (seed, i, j, task, spatial_size): independent of batch size and of
 * any earlier call.
 */
import { DataError } from './errors';
import type { SyntheticDataConfig } from '../pipeline/plan';
import { Purpose, sampleStream, type Stream } from './random';
import type { Batch, DataSource } from './source';

type ShapeKind = 'round' | 'bar';

interface TaskSpec {
  description: string;
  foreground: ShapeKind[];
  /** Object intensity above the background, drawn uniformly per object. */
  contrast: [number, number];
  /** Noise standard deviation (scaled per image by a factor in [0.8, 1.2]). */
  noise: number;
}

export const SYNTHETIC_TASKS: Record<string, TaskSpec> = {
  A: { description: 'bright blobs: segment every object', foreground: ['round', 'bar'], contrast: [0.8, 1.6], noise: 0.35 },
  B: { description: 'round among bars: segment round objects only', foreground: ['round'], contrast: [0.8, 1.6], noise: 0.35 },
  C: { description: 'faint blobs: every object, low contrast', foreground: ['round', 'bar'], contrast: [0.4, 0.9], noise: 0.45 },
};

const MAX_OBJECTS = 4;
const PLACEMENT_TRIES = 20;
/** Object radius as a fraction of the smallest spatial side (larger in 3-D, where balls fill less of the volume). */
const RADIUS_RANGE: Record<number, [number, number]> = { 2: [0.07, 0.16], 3: [0.12, 0.22] };

interface SceneObject {
  round: boolean;
  center: number[];
  radius: number;
  /** Half sizes per axis (for round objects all equal the radius). */
  halves: number[];
  /** The largest distance from the centre to the object's edge. */
  extent: number;
  intensity: number;
  foreground: boolean;
}

/** Boxes are elongated bars: their long side is ELONGATION² times the short ones (in 2-D). */
const ELONGATION = 2;

/**
 * Half sizes of a bar with the same area (2-D) or volume (3-D) as a ball of radius r, long along `axis`, so that
 * only shape (not size) tells bars from round objects.
 */
function barHalfSides(radius: number, dims: number, axis: number): number[] {
  const cubeHalf = dims === 2 ? (radius * Math.sqrt(Math.PI)) / 2 : (radius * Math.cbrt((4 / 3) * Math.PI)) / 2;
  const short = cubeHalf / ELONGATION ** (1 / (dims - 1));
  return Array.from({ length: dims }, (_, d) => (d === axis ? cubeHalf * ELONGATION : short));
}

function placeObjects(rng: Stream, size: number[], task: TaskSpec): SceneObject[] {
  const minSide = Math.min(...size);
  const [rLo, rHi] = RADIUS_RANGE[size.length];
  const count = 1 + rng.int(MAX_OBJECTS);
  const objects: SceneObject[] = [];
  for (let n = 0; n < count; n++) {
    // The first object is always foreground, so every image has something to segment.
    const kind: ShapeKind = n === 0 ? task.foreground[rng.int(task.foreground.length)] : rng.uniform() < 0.5 ? 'round' : 'bar';
    const radius = Math.max(1.5, rng.range(rLo, rHi) * minSide);
    const intensity = rng.range(task.contrast[0], task.contrast[1]);
    const round = kind === 'round';
    const halves = round ? size.map(() => radius) : barHalfSides(radius, size.length, rng.int(size.length));
    const extent = round ? radius : Math.hypot(...halves);
    for (let t = 0; t < PLACEMENT_TRIES; t++) {
      const center = size.map((s, d) => rng.range(halves[d] + 1, s - halves[d] - 1));
      const clear = objects.every((o) => Math.hypot(...center.map((c, d) => c - o.center[d])) > o.extent + extent + 1);
      if (clear) {
        objects.push({ round, center, radius, halves, extent, intensity, foreground: task.foreground.includes(kind) });
        break;
      }
    }
  }
  return objects;
}

/** Adds one object's intensity inside its bounding box and marks its voxels (2-D scenes are [1, H, W] here). */
function drawObject(o: SceneObject, size3: number[], dims: number, image: Float32Array, label: Int32Array, offset: number): void {
  const c3 = dims === 2 ? [0.5, ...o.center] : o.center;
  const h3 = dims === 2 ? [0.5, ...o.halves] : o.halves;
  const lo = c3.map((c, d) => (d < 3 - dims ? 0 : Math.max(0, Math.floor(c - h3[d]))));
  const hi = c3.map((c, d) => (d < 3 - dims ? 1 : Math.min(size3[d], Math.ceil(c + h3[d]))));
  const r2 = o.radius * o.radius;
  for (let z = lo[0]; z < hi[0]; z++) {
    const dz = z + 0.5 - c3[0];
    for (let y = lo[1]; y < hi[1]; y++) {
      const dy = y + 0.5 - c3[1];
      for (let x = lo[2]; x < hi[2]; x++) {
        const dx = x + 0.5 - c3[2];
        const inside = o.round ? dz * dz + dy * dy + dx * dx <= r2 : Math.abs(dz) <= h3[0] && Math.abs(dy) <= h3[1] && Math.abs(dx) <= h3[2];
        if (!inside) continue;
        const v = offset + (z * size3[1] + y) * size3[2] + x;
        image[v] += o.intensity;
        if (o.foreground) label[v] = 1;
      }
    }
  }
}

/** Writes one sample (image and label, `size` voxels in C order) at the given offsets. */
function renderSample(seed: number, iteration: number, sample: number, size: number[], task: TaskSpec,
  image: Float32Array, label: Int32Array, offset: number): void {
  const shapeRng = sampleStream(seed, iteration, sample, Purpose.syntheticShapes);
  const objects = placeObjects(shapeRng, size, task);
  const bgOffset = 0.2 * shapeRng.normal();
  const gradient = size.map((s) => shapeRng.range(-0.3, 0.3) / s);
  const noiseSd = task.noise * shapeRng.range(0.8, 1.2);
  const noiseRng = sampleStream(seed, iteration, sample, Purpose.syntheticNoise);

  // Background: offset + linear bias field (centred) + Gaussian noise.
  const dims = size.length;
  const size3 = dims === 2 ? [1, ...size] : size;
  const g3 = dims === 2 ? [0, ...gradient] : gradient;
  let v = offset;
  for (let z = 0; z < size3[0]; z++) {
    const bz = bgOffset + g3[0] * (z + 0.5 - size3[0] / 2);
    for (let y = 0; y < size3[1]; y++) {
      const by = bz + g3[1] * (y + 0.5 - size3[1] / 2);
      for (let x = 0; x < size3[2]; x++, v++) {
        image[v] = by + g3[2] * (x + 0.5 - size3[2] / 2) + noiseSd * noiseRng.normal();
      }
    }
  }
  for (const o of objects) drawObject(o, size3, dims, image, label, offset);
}

export function makeSyntheticSource(config: SyntheticDataConfig, seed: number): DataSource {
  const task = SYNTHETIC_TASKS[config.task];
  if (!task) {
    throw new DataError(`unknown synthetic task '${config.task}'`, {
      field: 'data.task',
      fix: `use one of: ${Object.entries(SYNTHETIC_TASKS).map(([k, t]) => `${k} (${t.description})`).join(', ')}`,
    });
  }
  const size = config.spatial_size;
  if ((size.length !== 2 && size.length !== 3) || !size.every((s) => Number.isInteger(s) && s >= 8)) {
    throw new DataError(`synthetic spatial_size must be 2 or 3 integers >= 8, got [${size.join(', ')}]`, {
      field: 'data.spatial_size',
      fix: 'e.g. spatial_size: [64, 64] or [32, 32, 32]',
    });
  }
  const voxels = size.reduce((a, b) => a * b, 1);
  return {
    numClasses: 2,
    channels: 1,
    spatialSize: [...size],
    batch(iteration: number, batchSize: number): Batch {
      const images = new Float32Array(batchSize * voxels);
      const labels = new Int32Array(batchSize * voxels);
      for (let b = 0; b < batchSize; b++) renderSample(seed, iteration, b, size, task, images, labels, b * voxels);
      return { images, labels, shape: [batchSize, ...size, 1] };
    },
  };
}
