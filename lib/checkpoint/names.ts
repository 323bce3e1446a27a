/** File names of a checkpoint with prefix P (tensorflow/core/util/tensor_bundle/naming.cc, plus thaw's sidecar). */
export function indexFile(prefix: string): string {
  return `${prefix}.index`;
}

export function dataFile(prefix: string, shard: number, numShards: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${prefix}.data-${pad(shard)}-of-${pad(numShards)}`;
}

export function metaFile(prefix: string): string {
  return `${prefix}.meta`;
}

export function sidecarFile(prefix: string): string {
  return `${prefix}.thaw.json`;
}
