/**
 * The protobuf messages a checkpoint uses, declared as protobufjs JSON descriptors (field numbers from TensorFlow's
 * .proto files: tensor_bundle, tensor_shape, tensor_slice, versions, meta_graph, graph, node_def, attr_value, tensor,
 * saver, variable). Only the fields thaw reads or writes are declared; protobufjs skips unknown ones.
 */
import * as protobuf from 'protobufjs';

const int32 = (id: number) => ({ type: 'int32', id });
const int64 = (id: number) => ({ type: 'int64', id });
const str = (id: number) => ({ type: 'string', id });
const bytes = (id: number) => ({ type: 'bytes', id });
const bool = (id: number) => ({ type: 'bool', id });
const msg = (type: string, id: number) => ({ type, id });
const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
/** map<string, type> (a protobufjs map field descriptor). */
const stringMap = (type: string, id: number) => ({ keyType: 'string', type, id }) as unknown as protobuf.IField;

const root = protobuf.Root.fromJSON({
  nested: {
    tensorflow: {
      nested: {
        VersionDef: { fields: { producer: int32(1), minConsumer: int32(2), badConsumers: repeated('int32', 3) } },
        BundleHeaderProto: {
          fields: { numShards: int32(1), endianness: int32(2), version: msg('VersionDef', 3) },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dim', 2), unknownRank: bool(3) },
          nested: { Dim: { fields: { size: int64(1), name: str(2) } } },
        },
        TensorSliceProto: {
          fields: { extent: repeated('Extent', 1) },
          nested: {
            Extent: {
              oneofs: { hasLength: { oneof: ['length'] } },
              fields: { start: int64(1), length: int64(2) },
            },
          },
        },
        BundleEntryProto: {
          fields: {
            dtype: int32(1),
            shape: msg('TensorShapeProto', 2),
            shardId: int32(3),
            offset: int64(4),
            size: int64(5),
            crc32c: { type: 'fixed32', id: 6 },
            slices: repeated('TensorSliceProto', 7),
          },
        },
        TensorProto: {
          fields: {
            dtype: int32(1),
            tensorShape: msg('TensorShapeProto', 2),
            tensorContent: bytes(4),
            floatVal: repeated('float', 5),
            intVal: repeated('int32', 7),
            stringVal: repeated('bytes', 8),
          },
        },
        AttrValue: {
          oneofs: { value: { oneof: ['list', 's', 'i', 'f', 'b', 'type', 'shape', 'tensor'] } },
          fields: {
            list: msg('ListValue', 1), s: bytes(2), i: int64(3), f: { type: 'float', id: 4 }, b: bool(5),
            type: int32(6), shape: msg('TensorShapeProto', 7), tensor: msg('TensorProto', 8),
          },
          nested: {
            ListValue: {
              fields: {
                s: repeated('bytes', 2), i: repeated('int64', 3), f: repeated('float', 4), b: repeated('bool', 5),
                type: repeated('int32', 6), shape: repeated('TensorShapeProto', 7), tensor: repeated('TensorProto', 8),
              },
            },
          },
        },
        NodeDef: {
          fields: {
            name: str(1), op: str(2), input: repeated('string', 3), device: str(4),
            attr: stringMap('AttrValue', 5),
          },
        },
        GraphDef: { fields: { node: repeated('NodeDef', 1), versions: msg('VersionDef', 4) } },
        SaverDef: {
          fields: {
            filenameTensorName: str(1), saveTensorName: str(2), restoreOpName: str(3), maxToKeep: int32(4),
            sharded: bool(5), keepCheckpointEveryNHours: { type: 'float', id: 6 }, version: int32(7),
          },
        },
        CollectionDef: {
          oneofs: { kind: { oneof: ['nodeList', 'bytesList'] } },
          fields: { nodeList: msg('NodeList', 1), bytesList: msg('BytesList', 2) },
          nested: {
            NodeList: { fields: { value: repeated('string', 1) } },
            BytesList: { fields: { value: repeated('bytes', 1) } },
          },
        },
        VariableDef: {
          fields: {
            variableName: str(1), initializerName: str(2), snapshotName: str(3), isResource: bool(5),
            initialValueName: str(6), trainable: bool(7),
          },
        },
        MetaGraphDef: {
          fields: {
            metaInfoDef: msg('MetaInfoDef', 1), graphDef: msg('GraphDef', 2), saverDef: msg('SaverDef', 3),
            collectionDef: stringMap('CollectionDef', 4),
          },
          nested: {
            MetaInfoDef: {
              fields: {
                metaGraphVersion: str(1), tags: repeated('string', 4), tensorflowVersion: str(5),
                tensorflowGitVersion: str(6),
              },
            },
          },
        },
      },
    },
  },
});

function type(name: string): protobuf.Type {
  return root.lookupType(`tensorflow.${name}`);
}

export const BundleHeaderProto = type('BundleHeaderProto');
export const BundleEntryProto = type('BundleEntryProto');
export const MetaGraphDef = type('MetaGraphDef');
export const VariableDef = type('VariableDef');

/** protobufjs gives int64 fields as Long (when `long` is installed) or number; offsets and sizes fit a number. */
export function int64ToNumber(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

export interface DecodedHeader {
  numShards: number;
  endianness: number;
  version: { producer: number; minConsumer: number; badConsumers: number[] };
}

export interface DecodedSlice {
  extents: { start: number; length: number | null }[];
}

export interface DecodedEntry {
  dtype: number;
  shape: number[];
  unknownRank: boolean;
  shardId: number;
  offset: number;
  size: number;
  crc32c: number;
  slices: DecodedSlice[];
}

interface RawDim { size?: unknown }
interface RawShape { dim?: RawDim[]; unknownRank?: boolean }
interface RawExtent { start?: unknown; length?: unknown }

export function decodeHeader(bytes: Uint8Array): DecodedHeader {
  const m = BundleHeaderProto.decode(bytes) as unknown as {
    numShards?: number; endianness?: number; version?: { producer?: number; minConsumer?: number; badConsumers?: number[] };
  };
  return {
    numShards: m.numShards ?? 0,
    endianness: m.endianness ?? 0,
    version: {
      producer: m.version?.producer ?? 0,
      minConsumer: m.version?.minConsumer ?? 0,
      badConsumers: m.version?.badConsumers ?? [],
    },
  };
}

const NO_SLICES: DecodedSlice[] = Object.freeze([]) as unknown as DecodedSlice[];

export function decodeEntry(bytes: Uint8Array): DecodedEntry {
  const m = BundleEntryProto.decode(bytes) as unknown as {
    dtype?: number; shape?: RawShape; shardId?: number; offset?: unknown; size?: unknown; crc32c?: number;
    slices?: { extent?: RawExtent[] }[];
  };
  return {
    dtype: m.dtype ?? 0,
    shape: (m.shape?.dim ?? []).map((d) => int64ToNumber(d.size)),
    unknownRank: m.shape?.unknownRank ?? false,
    shardId: m.shardId ?? 0,
    offset: int64ToNumber(m.offset),
    size: int64ToNumber(m.size),
    crc32c: (m.crc32c ?? 0) >>> 0,
    slices: m.slices === undefined || m.slices.length === 0 ? NO_SLICES : m.slices.map((s) => ({
      extents: (s.extent ?? []).map((e) => ({
        start: int64ToNumber(e.start),
        length: e.length === undefined || e.length === null ? null : int64ToNumber(e.length),
      })),
    })),
  };
}

/** A TensorShapeProto object: zero dims are written as empty Dim messages, as TensorFlow does. */
export function shapeMessage(shape: readonly number[]): { dim: { size?: number }[] } {
  return { dim: shape.map((size) => (size === 0 ? {} : { size })) };
}

export function encodeHeader(numShards: number): Uint8Array {
  return BundleHeaderProto.encode(BundleHeaderProto.fromObject({ numShards, version: { producer: 1 } })).finish();
}

/** Entry bytes in TensorFlow's field order with proto3 defaults (shard 0, offset 0) left out. */
export function encodeEntry(e: { dtype: number; shape: readonly number[]; offset: number; size: number; crc32c: number }): Uint8Array {
  const obj: Record<string, unknown> = { dtype: e.dtype, shape: shapeMessage(e.shape), crc32c: e.crc32c };
  if (e.offset !== 0) obj.offset = e.offset;
  if (e.size !== 0) obj.size = e.size;
  return BundleEntryProto.encode(BundleEntryProto.fromObject(obj)).finish();
}
