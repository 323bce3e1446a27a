/**
 * Training data for thaw: synthetic segmentation tasks and NIfTI image/label pairs, behind one interface.
 * Plain typed arrays in and out (no TensorFlow.js), so any training engine can use it.
 */
import type { DataConfig } from '../pipeline/plan';
import { makeNiftiSource } from './nifti-source';
import type { DataSource } from './source';
import { makeSyntheticSource } from './synthetic';

export type { Batch, DataSource } from './source';
export { DataError } from './errors';
export { SYNTHETIC_TASKS } from './synthetic';

export interface DataSourceOptions {
  seed: number;
  /** Folder that relative paths in the config are resolved against (the pipeline YAML's folder). */
  baseDir: string;
  /** Memory for loaded NIfTI volumes in MB (settings.training.dataCacheMb; default 1024). */
  dataCacheMb?: number;
}

/** Builds the data source for a stage. Throws a DataError for bad configs or files. */
export function makeDataSource(config: DataConfig, opts: DataSourceOptions): DataSource {
  switch (config.kind) {
    case 'synthetic':
      return makeSyntheticSource(config, opts.seed);
    case 'nifti':
      return makeNiftiSource(config, opts.seed, opts.baseDir, opts.dataCacheMb);
  }
}
