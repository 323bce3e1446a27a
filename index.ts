/**
 * thaw: durable staged fine-tuning of NiftyNet/TensorFlow checkpoints on Temporal. The package's entry points:
 * `thaw/plugin` (host thaw's workflows and activities in your workers), `thaw/client` (start and follow pipelines),
 * `thaw/networks` (define your own network), `thaw/workflows` (the workflow code, to bundle ahead of time); this
 * module re-exports the first two.
 */
export * from './plugin';
export * from './client';
