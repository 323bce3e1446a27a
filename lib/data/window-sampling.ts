/**
 * Where a training window is cut from a volume. `uniform` (NiftyNet's default): every origin at which the window fits
 * is equally likely. `weighted` and `balanced` follow NiftyNet 0.6.0's samplers (engine/sampler_weighted_v2.py,
 * sampler_balanced_v2.py) with the label map as the sampling map (`sampler = label`): the window's centre is drawn
 * from NiftyNet's valid-centre region (crop_sampling_map: from floor(w/2) to size − w + int(w/2 + 0.6) per axis),
 * `weighted` with probability proportional to the map's value there, `balanced` with every class present in the
 * region equally likely, then every voxel of that class. Each draw comes from the caller's stream, a pure function of
 * (seed, iteration, sample). NiftyNet spreads a batch's weighted draws over strata of the cumulative map; thaw draws
 * them independently, with the same probability per draw.
 */
import type { Stream } from './random';

export type WindowSampling = 'uniform' | 'weighted' | 'balanced';

/** Per axis, how many window origins NiftyNet's centre region allows, and where they start (the centre − floor(w/2)). */
export function centreRegion(spatial: readonly number[], window: readonly number[]): number[] {
  return window.map((w, d) => {
    const start = Math.floor(w / 2);
    const end = spatial[d] - w + Math.floor(w / 2 + 0.6);
    return (start === end ? end + 1 : end) - start;
  });
}

/** A case's table for drawing window origins by its label map (built once per loaded case). */
export interface OriginTable {
  /** Origins per axis (see centreRegion). */
  counts: number[];
  /** weighted: cumulative map values over the region in C order; balanced: each present class's region positions. */
  cumulative?: Float64Array;
  classes?: Int32Array[];
  bytes: number;
}

/** `labels` in C order [x, y, z] of `spatial`; null for uniform sampling. */
export function originTable(mode: WindowSampling, labels: Int32Array, spatial: readonly number[], window: readonly number[]): OriginTable | null {
  if (mode === 'uniform') return null;
  const counts = centreRegion(spatial, window);
  const [, Y, Z] = spatial;
  const [cx, cy, cz] = counts;
  const start = window.map((w) => Math.floor(w / 2));
  const valueAt = (x: number, y: number, z: number) => labels[((x + start[0]) * Y + y + start[1]) * Z + z + start[2]];
  if (mode === 'weighted') {
    const cumulative = new Float64Array(cx * cy * cz);
    let sum = 0;
    for (let x = 0, i = 0; x < cx; x++) for (let y = 0; y < cy; y++) for (let z = 0; z < cz; z++, i++) cumulative[i] = sum += valueAt(x, y, z);
    return { counts, cumulative, bytes: cumulative.byteLength };
  }
  const byClass = new Map<number, number[]>();
  for (let x = 0, i = 0; x < cx; x++) {
    for (let y = 0; y < cy; y++) {
      for (let z = 0; z < cz; z++, i++) {
        const v = valueAt(x, y, z);
        const list = byClass.get(v) ?? [];
        list.push(i);
        byClass.set(v, list);
      }
    }
  }
  // np.unique's order: classes ascending.
  const classes = [...byClass.keys()].sort((a, b) => a - b).map((k) => Int32Array.from(byClass.get(k)!));
  return { counts, classes, bytes: classes.reduce((n, c) => n + c.byteLength, 0) };
}

/** A window origin [x, y, z]: uniform over every fitting origin, or by the case's table. */
export function drawOrigin(rng: Stream, table: OriginTable | null, spatial: readonly number[], window: readonly number[]): number[] {
  if (!table) return window.map((w, d) => rng.int(spatial[d] - w + 1));
  const [, cy, cz] = table.counts;
  let flat: number;
  if (table.cumulative) {
    const total = table.cumulative[table.cumulative.length - 1];
    if (total === 0) flat = rng.int(table.cumulative.length); // a constant map: NiftyNet samples uniformly
    else {
      const u = rng.uniform() * total;
      let lo = 0;
      let hi = table.cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (table.cumulative[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      flat = lo;
    }
  } else {
    const classes = table.classes!;
    const members = classes[rng.int(classes.length)];
    flat = members[rng.int(members.length)];
  }
  return [Math.floor(flat / (cy * cz)), Math.floor(flat / cz) % cy, flat % cz];
}
