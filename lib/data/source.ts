/** What the trainer sees of a data set: fixed-shape batches, each a pure function of (seed, iteration). */

export interface Batch {
  /** Channels-last [B, ...spatial, C], C order (last axis fastest). */
  images: Float32Array;
  /** Class indices [B, ...spatial]. */
  labels: Int32Array;
  /** The shape of `images`. */
  shape: number[];
}

export interface DataSource {
  numClasses: number;
  channels: number;
  /** Spatial size of one sample (2 or 3 numbers). */
  spatialSize: number[];
  /** The batch for one iteration: the same (seed, iteration, batchSize) always gives the same bytes. */
  batch(iteration: number, batchSize: number): Batch;
}
