/**
 * Where `thaw infer` puts its windows: NiftyNet 0.6.0's GridSampler (niftynet/engine/sampler_grid_v2.py), whose
 * windows lie on a grid of step window − 2·border per axis, the last one snapped to the volume's end, a middle one
 * added where an axis has just two, in NiftyNet's order (y slowest, then x, then z: numpy's meshgrid 'xy' indexing).
 * The order matters: where cropped windows overlap, the later one is what NiftyNet's aggregator keeps.
 */

/** numpy's round: halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** sampler_grid_v2._enumerate_step_points(0, ending, win, step). */
export function stepPoints(ending: number, win: number, step: number): number[] {
  const end = Math.max(ending, 0);
  const size = Math.max(win, 1);
  const stride = Math.max(step, 1);
  const points: number[] = [];
  for (let s = 0; s + size <= end; s += stride) points.push(s);
  points.push(Math.max(end - size, 0));
  const sorted = [...new Set(points)].sort((a, b) => a - b);
  if (sorted.length === 2) sorted.push(roundHalfEven((sorted[0] + sorted[1]) / 2));
  return [...new Set(sorted)];
}

/** grid_spatial_coordinates: each window's start [x, y, z], in NiftyNet's order. */
export function gridWindows(image: number[], window: number[], border: number[]): number[][] {
  const [xs, ys, zs] = [0, 1, 2].map((i) => stepPoints(image[i], window[i], Math.max(window[i] - 2 * border[i], 0)));
  return ys.flatMap((y) => xs.flatMap((x) => zs.map((z) => [x, y, z])));
}
