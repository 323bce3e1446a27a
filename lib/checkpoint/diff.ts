/**
 * Compares two checkpoints variable by variable: same (bit-identical) / changed (largest absolute difference) /
 * only in A / only in B / mismatch (dtype or shape differs). Reads one pair of tensors at a time.
 */
import type { DType, Tensor, TensorData } from './dtypes';
import { toNumbers } from './convert';
import { CheckpointReader } from './reader';
import { resolveCheckpointTarget } from './resolve';
import type { StoragesOption } from '../storage';

export type DiffStatus = 'same' | 'changed' | 'onlyA' | 'onlyB' | 'mismatch';

export interface VariableDiff {
  name: string;
  status: DiffStatus;
  a?: { dtype: DType; shape: number[] };
  b?: { dtype: DType; shape: number[] };
  /** For `changed` numeric variables: max |a - b| (Infinity when only one side is NaN/infinite); null for strings. */
  maxAbsDiff?: number | null;
}

export interface DiffReport {
  a: string;
  b: string;
  identical: boolean;
  counts: Record<DiffStatus, number>;
  variables: VariableDiff[];
}

function bytesOf(data: Exclude<TensorData, Uint8Array[]>): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function identical(a: Tensor, b: Tensor): boolean {
  if (a.dtype === 'string') {
    const sa = a.data as Uint8Array[];
    const sb = b.data as Uint8Array[];
    return sa.length === sb.length && sa.every((s, i) => Buffer.compare(s, sb[i]) === 0);
  }
  return bytesOf(a.data as Exclude<TensorData, Uint8Array[]>).equals(bytesOf(b.data as Exclude<TensorData, Uint8Array[]>));
}

function maxAbsDiff(a: Tensor, b: Tensor): number | null {
  if (a.dtype === 'string') return null;
  const complex = a.dtype === 'complex64' || a.dtype === 'complex128';
  const na = complex ? (a.data as ArrayLike<number>) : toNumbers(a);
  const nb = complex ? (b.data as ArrayLike<number>) : toNumbers(b);
  let max = 0;
  for (let i = 0; i < na.length; i++) {
    const x = na[i];
    const y = nb[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const d = x === y ? 0 : Math.abs(x - y);
    max = Number.isNaN(d) ? Infinity : Math.max(max, d);
  }
  return max;
}

export async function diffCheckpoints(targetA: string, targetB: string, options: StoragesOption = {}): Promise<DiffReport> {
  const prefixA = await resolveCheckpointTarget(targetA, options);
  const prefixB = await resolveCheckpointTarget(targetB, options);
  const ra = await CheckpointReader.open(prefixA, options);
  try {
    const rb = await CheckpointReader.open(prefixB, options);
    try {
      return await compare(ra, rb);
    } finally {
      await rb.close();
    }
  } finally {
    await ra.close();
  }
}

async function compare(ra: CheckpointReader, rb: CheckpointReader): Promise<DiffReport> {
  const va = ra.variables();
  const vb = rb.variables();
  const variables: VariableDiff[] = [];
  let i = 0;
  let j = 0;
  while (i < va.length || j < vb.length) {
    const order = i >= va.length ? 1 : j >= vb.length ? -1 : Buffer.compare(Buffer.from(va[i].name), Buffer.from(vb[j].name));
    if (order < 0) {
      const { name, dtype, shape } = va[i++];
      variables.push({ name, status: 'onlyA', a: { dtype, shape } });
    } else if (order > 0) {
      const { name, dtype, shape } = vb[j++];
      variables.push({ name, status: 'onlyB', b: { dtype, shape } });
    } else {
      const a = va[i++];
      const b = vb[j++];
      const sides = { a: { dtype: a.dtype, shape: a.shape }, b: { dtype: b.dtype, shape: b.shape } };
      if (a.dtype !== b.dtype || JSON.stringify(a.shape) !== JSON.stringify(b.shape)) {
        variables.push({ name: a.name, status: 'mismatch', ...sides });
        continue;
      }
      const ta = await ra.read(a.name);
      const tb = await rb.read(b.name);
      if (identical(ta, tb)) variables.push({ name: a.name, status: 'same', ...sides });
      else variables.push({ name: a.name, status: 'changed', ...sides, maxAbsDiff: maxAbsDiff(ta, tb) });
    }
  }
  const counts: Record<DiffStatus, number> = { same: 0, changed: 0, onlyA: 0, onlyB: 0, mismatch: 0 };
  for (const v of variables) counts[v.status]++;
  return { a: ra.prefix, b: rb.prefix, identical: counts.same === variables.length, counts, variables };
}
