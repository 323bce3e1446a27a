/**
 * Per-op timing of one graph step: TF_SessionRun with RunOptions FULL_TRACE, and the StepStats of its RunMetadata
 * read with a minimal protobuf wire-format reader (tensorflow/core/framework/step_stats.proto: RunMetadata.step_stats
 * → dev_stats → node_stats {node_name 1, all_start_micros 2, all_end_rel_micros 5, timeline_label 8}). The op type is
 * the one TensorFlow ran after grappler and oneDNN rewrote the graph (`_MklConv3D`, `_FusedConv2D`, …).
 */

interface Field {
  num: number;
  wire: number;
  value: bigint | Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let shift = 0n;
    let result = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const num = key >> 3;
    const wire = key & 7;
    if (wire === 0) yield { num, wire, value: varint() };
    else if (wire === 2) {
      const len = Number(varint());
      yield { num, wire, value: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
}

export interface OpTiming {
  op: string;
  count: number;
  /** Sum of the ops' own durations (µs); with parallel ops this exceeds the step's wall time. */
  totalMicros: number;
}

export interface StepProfile {
  wallMicros: number;
  ops: OpTiming[];
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** Aggregates a serialized RunMetadata by op type, slowest first. */
export function profileFromRunMetadata(metadata: Uint8Array): StepProfile {
  const byOp = new Map<string, OpTiming>();
  let first = Infinity;
  let last = 0;
  for (const f of fields(metadata)) {
    if (f.num !== 1 || f.wire !== 2) continue;
    for (const dev of fields(f.value as Uint8Array)) {
      if (dev.num !== 1 || dev.wire !== 2) continue;
      let device = '';
      for (const d of fields(dev.value as Uint8Array)) {
        if (d.num === 1 && d.wire === 2) device = text(d.value as Uint8Array);
        if (d.num !== 2 || d.wire !== 2) continue;
        let start = 0;
        let dur = 0;
        let label = '';
        let name = '';
        for (const n of fields(d.value as Uint8Array)) {
          if (n.num === 1 && n.wire === 2) name = text(n.value as Uint8Array);
          else if (n.num === 2 && n.wire === 0) start = Number(n.value);
          else if (n.num === 5 && n.wire === 0) dur = Number(n.value);
          else if (n.num === 8 && n.wire === 2) label = text(n.value as Uint8Array);
        }
        if (name === '_SOURCE' || /stream:/.test(device)) continue;
        const op = /=\s*([^(\s]+)\(/.exec(label)?.[1] ?? name;
        const entry = byOp.get(op) ?? { op, count: 0, totalMicros: 0 };
        entry.count++;
        entry.totalMicros += dur;
        byOp.set(op, entry);
        first = Math.min(first, start);
        last = Math.max(last, start + dur);
      }
    }
  }
  return { wallMicros: Number.isFinite(first) ? last - first : 0, ops: [...byOp.values()].sort((a, b) => b.totalMicros - a.totalMicros) };
}
