/**
 * TensorFlow element types as thaw names them (TensorFlow's Python names), their DataType enum numbers, byte sizes,
 * and the typed array each one is held in.
 */
export type DType =
  | 'float16' | 'bfloat16' | 'float32' | 'float64'
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'bool' | 'complex64' | 'complex128' | 'string';

/**
 * float32→Float32Array, float64→Float64Array, intN/uintN→(Big)IntNArray, bool→Uint8Array, float16/bfloat16→Uint16Array
 * (raw bits), complex64→Float32Array and complex128→Float64Array (interleaved re, im), string→raw bytes per element.
 */
export type TensorData =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Uint8Array[];

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface VariableInfo {
  name: string;
  dtype: DType;
  shape: number[];
}

type NumericCtor =
  | Float32ArrayConstructor | Float64ArrayConstructor | Int8ArrayConstructor | Int16ArrayConstructor
  | Int32ArrayConstructor | BigInt64ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor
  | Uint32ArrayConstructor | BigUint64ArrayConstructor;

interface DTypeSpec {
  /** DataType enum value in types.proto. */
  enumValue: number;
  /** Bytes per element on disk (0 for string). */
  bytes: number;
  /** Typed array that holds the elements (null for string). */
  array: NumericCtor | null;
  /** Array elements per tensor element (2 for complex). */
  lanes: number;
}

const SPECS: Record<DType, DTypeSpec> = {
  float32: { enumValue: 1, bytes: 4, array: Float32Array, lanes: 1 },
  float64: { enumValue: 2, bytes: 8, array: Float64Array, lanes: 1 },
  int32: { enumValue: 3, bytes: 4, array: Int32Array, lanes: 1 },
  uint8: { enumValue: 4, bytes: 1, array: Uint8Array, lanes: 1 },
  int16: { enumValue: 5, bytes: 2, array: Int16Array, lanes: 1 },
  int8: { enumValue: 6, bytes: 1, array: Int8Array, lanes: 1 },
  string: { enumValue: 7, bytes: 0, array: null, lanes: 1 },
  complex64: { enumValue: 8, bytes: 8, array: Float32Array, lanes: 2 },
  int64: { enumValue: 9, bytes: 8, array: BigInt64Array, lanes: 1 },
  bool: { enumValue: 10, bytes: 1, array: Uint8Array, lanes: 1 },
  bfloat16: { enumValue: 14, bytes: 2, array: Uint16Array, lanes: 1 },
  uint16: { enumValue: 17, bytes: 2, array: Uint16Array, lanes: 1 },
  complex128: { enumValue: 18, bytes: 16, array: Float64Array, lanes: 2 },
  float16: { enumValue: 19, bytes: 2, array: Uint16Array, lanes: 1 },
  uint32: { enumValue: 22, bytes: 4, array: Uint32Array, lanes: 1 },
  uint64: { enumValue: 23, bytes: 8, array: BigUint64Array, lanes: 1 },
};

export const DTYPES = Object.keys(SPECS) as DType[];

const BY_ENUM = new Map<number, DType>(DTYPES.map((d) => [SPECS[d].enumValue, d]));

/** TensorFlow DataType names for the enum values thaw does not read (quantized, resource, variant), for messages. */
const UNSUPPORTED_NAMES: Record<number, string> = {
  0: 'DT_INVALID', 11: 'DT_QINT8', 12: 'DT_QUINT8', 13: 'DT_QINT32', 15: 'DT_QINT16', 16: 'DT_QUINT16',
  20: 'DT_RESOURCE', 21: 'DT_VARIANT',
};

export function dtypeFromEnum(value: number): DType | undefined {
  return BY_ENUM.get(value);
}

export function describeDataTypeEnum(value: number): string {
  return UNSUPPORTED_NAMES[value] ?? `DataType ${value}`;
}

export function dtypeEnum(dtype: DType): number {
  return SPECS[dtype].enumValue;
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SPECS, value);
}

/** Bytes per element on disk; 0 for string. */
export function dtypeBytes(dtype: DType): number {
  return SPECS[dtype].bytes;
}

export function dtypeArray(dtype: DType): NumericCtor | null {
  return SPECS[dtype].array;
}

/** Typed-array elements per tensor element: 2 for complex (re, im), else 1. */
export function dtypeLanes(dtype: DType): number {
  return SPECS[dtype].lanes;
}

export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
