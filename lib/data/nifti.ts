/**
 * NIfTI-1 and NIfTI-2 single-file images (`.nii`, gzip-compressed `.nii.gz`): header parsing and voxel reading.
 * Either byte order; integer and float voxel types; `scl_slope`/`scl_inter` applied as the standard says (slope 0
 * means "no scaling"). Voxels come back as float32 in file order (x fastest). Problems are DataErrors naming the
 * file and what is wrong.
 *
 * The header also keeps what a writer needs to give an output the same place in space (qform and sform with their
 * codes, units, slice timing, description; see nifti-write.ts), and `niftiAffine` gives the voxel-to-world matrix
 * the way nibabel's `img.affine` does (sform when its code is set, else qform, else a pixdim-only matrix).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { DataError } from './errors';

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[1..dim[0]]: x, y, z, t, u, v, w. */
  dims: number[];
  datatype: number;
  datatypeName: string;
  /** Voxel sizes matching `dims`. */
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  /** Where the voxels are in space and what else the header says about them (kept by writers). */
  space: NiftiSpace;
}

/** The header fields that place an image in space and describe it, as stored (both NIfTI versions). */
export interface NiftiSpace {
  /** pixdim[0]: the qform's handedness (-1 or 1; anything else reads as 1). */
  qfac: number;
  /** pixdim[1..7], also beyond dim[0] (what the file holds there). */
  pixdimAll: number[];
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: [number, number, number];
  /** qoffset_x, qoffset_y, qoffset_z. */
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z. */
  srow: [number[], number[], number[]];
  xyztUnits: number;
  dimInfo: number;
  sliceStart: number;
  sliceEnd: number;
  sliceCode: number;
  sliceDuration: number;
  toffset: number;
  intentCode: number;
  intentP: [number, number, number];
  intentName: string;
  calMin: number;
  calMax: number;
  descrip: string;
  auxFile: string;
}

export interface NiftiVolume {
  header: NiftiHeader;
  /** Scaled voxel values, file order (x fastest). */
  data: Float32Array;
}

type NumericArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

interface VoxelType {
  name: string;
  bytes: number;
  read: (view: DataView, offset: number, littleEndian: boolean) => number;
  /** Typed-array view for the fast path (file in this machine's byte order); none for 64-bit integers. */
  array?: new (buffer: ArrayBuffer, byteOffset: number, length: number) => NumericArray;
}

const VOXEL_TYPES: Record<number, VoxelType> = {
  2: { name: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o), array: Uint8Array },
  4: { name: 'int16', bytes: 2, read: (v, o, le) => v.getInt16(o, le), array: Int16Array },
  8: { name: 'int32', bytes: 4, read: (v, o, le) => v.getInt32(o, le), array: Int32Array },
  16: { name: 'float32', bytes: 4, read: (v, o, le) => v.getFloat32(o, le), array: Float32Array },
  64: { name: 'float64', bytes: 8, read: (v, o, le) => v.getFloat64(o, le), array: Float64Array },
  256: { name: 'int8', bytes: 1, read: (v, o) => v.getInt8(o), array: Int8Array },
  512: { name: 'uint16', bytes: 2, read: (v, o, le) => v.getUint16(o, le), array: Uint16Array },
  768: { name: 'uint32', bytes: 4, read: (v, o, le) => v.getUint32(o, le), array: Uint32Array },
  1024: { name: 'int64', bytes: 8, read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  1280: { name: 'uint64', bytes: 8, read: (v, o, le) => Number(v.getBigUint64(o, le)) },
};
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const UNSUPPORTED_TYPES: Record<number, string> = { 32: 'complex64', 128: 'rgb24', 1536: 'float128', 1792: 'complex128', 2048: 'complex256', 2304: 'rgba32' };

function dataError(file: string, what: string, fix: string): DataError {
  return new DataError(`${file}: ${what}`, { file, fix });
}

const GZIP_MAGIC = [0x1f, 0x8b];
const HEADER_PREFIX_BYTES = 1 << 16;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

function gunzip(file: string, bytes: Uint8Array, partial: boolean): Buffer {
  try {
    return gunzipSync(bytes, partial ? { finishFlush: zlibConstants.Z_SYNC_FLUSH } : {});
  } catch (err) {
    throw dataError(file, `gzip data is corrupt (${(err as Error).message})`, 'recompress or re-export the file');
  }
}

/** The decompressed bytes of the whole file. */
function readAllBytes(file: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw dataError(file, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'check the path and permissions');
  }
  return isGzip(raw) ? gunzip(file, raw, false) : raw;
}

/** At least the first `HEADER_PREFIX_BYTES` decompressed bytes (fewer if the file is smaller), without reading it all. */
function readPrefixBytes(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw dataError(file, `cannot open the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'check the path and permissions');
  }
  try {
    const buf = Buffer.alloc(HEADER_PREFIX_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n);
    return isGzip(head) ? gunzip(file, head, true) : head;
  } finally {
    closeSync(fd);
  }
}

function parseHeader(file: string, bytes: Buffer): NiftiHeader {
  if (bytes.length < 348) throw dataError(file, `too short for a NIfTI header (${bytes.length} bytes)`, 'check that this is a .nii or .nii.gz file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizeLE = view.getInt32(0, true);
  const sizeBE = view.getInt32(0, false);
  const sizeofHdr = sizeLE === 348 || sizeLE === 540 ? sizeLE : sizeBE;
  const littleEndian = sizeofHdr === sizeLE;
  if (sizeofHdr !== 348 && sizeofHdr !== 540) {
    throw dataError(file, `not a NIfTI file: sizeof_hdr is ${sizeLE}, expected 348 (NIfTI-1) or 540 (NIfTI-2)`, 'convert the image to NIfTI (.nii / .nii.gz)');
  }
  const le = littleEndian;
  if (sizeofHdr === 348) {
    const magic = bytes.toString('latin1', 344, 347);
    if (magic === 'ni1') throw dataError(file, 'is a two-file NIfTI (.hdr/.img pair), which thaw does not read', 'save it as a single .nii or .nii.gz');
    if (magic !== 'n+1') throw dataError(file, `bad NIfTI-1 magic '${magic}' (expected 'n+1')`, 'check that this is a NIfTI-1 file');
    const ndim = view.getInt16(40, le);
    const f32 = (o: number) => view.getFloat32(o, le);
    return finishHeader(file, {
      version: 1,
      littleEndian,
      ndim,
      dimAt: (i) => view.getInt16(40 + 2 * i, le),
      pixdimAt: (i) => f32(76 + 4 * i),
      datatype: view.getInt16(70, le),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      space: {
        qformCode: view.getInt16(252, le),
        sformCode: view.getInt16(254, le),
        quatern: [f32(256), f32(260), f32(264)],
        qoffset: [f32(268), f32(272), f32(276)],
        srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))) as NiftiSpace['srow'],
        xyztUnits: view.getUint8(123),
        dimInfo: view.getUint8(39),
        sliceStart: view.getInt16(74, le),
        sliceEnd: view.getInt16(120, le),
        sliceCode: view.getUint8(122),
        sliceDuration: f32(132),
        toffset: f32(136),
        intentCode: view.getInt16(68, le),
        intentP: [f32(56), f32(60), f32(64)],
        intentName: cString(bytes, 328, 16),
        calMin: f32(128),
        calMax: f32(124),
        descrip: cString(bytes, 148, 80),
        auxFile: cString(bytes, 228, 24),
      },
    });
  }
  if (bytes.length < 540) throw dataError(file, `too short for a NIfTI-2 header (${bytes.length} bytes)`, 'the file is truncated');
  const magic = bytes.toString('latin1', 4, 7);
  if (magic !== 'n+2') throw dataError(file, `bad NIfTI-2 magic '${magic}' (expected 'n+2'; two-file NIfTI is not read)`, 'save it as a single .nii or .nii.gz');
  const f64 = (o: number) => view.getFloat64(o, le);
  const i64 = (o: number) => Number(view.getBigInt64(o, le));
  return finishHeader(file, {
    version: 2,
    littleEndian,
    ndim: i64(16),
    dimAt: (i) => i64(16 + 8 * i),
    pixdimAt: (i) => f64(104 + 8 * i),
    datatype: view.getInt16(12, le),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    space: {
      qformCode: view.getInt32(344, le),
      sformCode: view.getInt32(348, le),
      quatern: [f64(352), f64(360), f64(368)],
      qoffset: [f64(376), f64(384), f64(392)],
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))) as NiftiSpace['srow'],
      xyztUnits: view.getInt32(500, le),
      dimInfo: view.getUint8(524),
      sliceStart: i64(224),
      sliceEnd: i64(232),
      sliceCode: view.getInt32(496, le),
      sliceDuration: f64(208),
      toffset: f64(216),
      intentCode: view.getInt32(504, le),
      intentP: [f64(80), f64(88), f64(96)],
      intentName: cString(bytes, 508, 16),
      calMin: f64(200),
      calMax: f64(192),
      descrip: cString(bytes, 240, 80),
      auxFile: cString(bytes, 320, 24),
    },
  });
}

/** A NUL-terminated latin1 string field. */
function cString(bytes: Buffer, offset: number, length: number): string {
  const field = bytes.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('latin1', 0, end < 0 ? length : end);
}

interface RawHeader {
  version: 1 | 2;
  littleEndian: boolean;
  ndim: number;
  dimAt: (i: number) => number;
  pixdimAt: (i: number) => number;
  datatype: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  /** The space fields but pixdim's, which come from pixdimAt. */
  space: Omit<NiftiSpace, 'qfac' | 'pixdimAll'>;
}

function finishHeader(file: string, raw: RawHeader): NiftiHeader {
  if (!(raw.ndim >= 1 && raw.ndim <= 7)) throw dataError(file, `bad header: dim[0] is ${raw.ndim}, expected 1..7`, 'the header is corrupt; re-export the image');
  const dims: number[] = [];
  const pixdim: number[] = [];
  for (let i = 1; i <= raw.ndim; i++) {
    const d = raw.dimAt(i);
    if (!(d >= 1)) throw dataError(file, `bad header: dim[${i}] is ${d}, expected >= 1`, 'the header is corrupt; re-export the image');
    dims.push(d);
    pixdim.push(raw.pixdimAt(i));
  }
  const type = VOXEL_TYPES[raw.datatype];
  if (!type) {
    const known = UNSUPPORTED_TYPES[raw.datatype];
    throw dataError(file, `datatype ${raw.datatype}${known ? ` (${known})` : ''} is not supported`, `store voxels as one of: ${Object.values(VOXEL_TYPES).map((t) => t.name).join(', ')}`);
  }
  const minOffset = raw.version === 1 ? 348 : 540;
  if (!(raw.voxOffset >= minOffset)) throw dataError(file, `bad header: vox_offset is ${raw.voxOffset}, expected >= ${minOffset}`, 'the header is corrupt; re-export the image');
  return {
    version: raw.version,
    littleEndian: raw.littleEndian,
    dims,
    datatype: raw.datatype,
    datatypeName: type.name,
    pixdim,
    voxOffset: Math.floor(raw.voxOffset),
    sclSlope: raw.sclSlope,
    sclInter: raw.sclInter,
    space: { qfac: raw.pixdimAt(0), pixdimAll: [1, 2, 3, 4, 5, 6, 7].map(raw.pixdimAt), ...raw.space },
  };
}

/** Reads only the header (a .nii.gz is decompressed only as far as needed). */
export function readNiftiHeader(file: string): NiftiHeader {
  return parseHeader(file, readPrefixBytes(file));
}

export function voxelCount(header: NiftiHeader): number {
  return header.dims.reduce((a, b) => a * b, 1);
}

/** Reads header and voxels; values are scaled by scl_slope/scl_inter when the slope is set (non-zero, finite). */
export function readNifti(file: string): NiftiVolume {
  const bytes = readAllBytes(file);
  const header = parseHeader(file, bytes);
  const type = VOXEL_TYPES[header.datatype];
  const count = voxelCount(header);
  const needed = header.voxOffset + count * type.bytes;
  if (bytes.length < needed) {
    throw dataError(file, `is truncated: ${header.dims.join('×')} ${type.name} voxels need ${needed} bytes, the file has ${bytes.length}`, 'the file is incomplete; copy or export it again');
  }
  const scale = header.sclSlope !== 0 && Number.isFinite(header.sclSlope);
  const slope = scale ? header.sclSlope : 1;
  const inter = scale && Number.isFinite(header.sclInter) ? header.sclInter : 0;
  const data = new Float32Array(count);
  const start = bytes.byteOffset + header.voxOffset;
  if (type.array && header.littleEndian === HOST_LITTLE_ENDIAN) {
    // Fast path: a typed view of the voxels (copied first when they are not aligned to their size).
    const aligned = start % type.bytes === 0 ? bytes.buffer : bytes.buffer.slice(start, start + count * type.bytes);
    const voxels = new type.array(aligned as ArrayBuffer, aligned === bytes.buffer ? start : 0, count);
    if (slope === 1 && inter === 0) data.set(voxels);
    else for (let i = 0; i < count; i++) data[i] = voxels[i] * slope + inter;
  } else {
    const view = new DataView(bytes.buffer, start, count * type.bytes);
    const le = header.littleEndian;
    for (let i = 0, o = 0; i < count; i++, o += type.bytes) data[i] = type.read(view, o, le) * slope + inter;
  }
  return { header, data };
}

/** A 4×4 voxel-to-world matrix, rows. */
export type Affine = number[][];

/** The qform as a matrix (NIfTI-1 standard; nibabel's get_qform): quaternion rotation, pixdims, qfac, offsets. */
export function qformAffine(space: NiftiSpace): Affine {
  const [b, c, d] = space.quatern;
  const w2 = 1 - (b * b + c * c + d * d);
  const a = w2 > 0 ? Math.sqrt(w2) : 0;
  const n = a * a + b * b + c * c + d * d;
  const s = n < Number.EPSILON ? 0 : 2 / n;
  const [X, Y, Z] = [b * s, c * s, d * s];
  const [wX, wY, wZ, xX, xY, xZ, yY, yZ, zZ] = [a * X, a * Y, a * Z, b * X, b * Y, b * Z, c * Y, c * Z, d * Z];
  const r = [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
  const vox = space.pixdimAll.slice(0, 3);
  if (space.qfac === -1) vox[2] = -vox[2];
  return [
    ...r.map((row, i) => [row[0] * vox[0], row[1] * vox[1], row[2] * vox[2], space.qoffset[i]]),
    [0, 0, 0, 1],
  ];
}

/** The sform as a matrix (srow_x, srow_y, srow_z, then 0 0 0 1). */
export function sformAffine(space: NiftiSpace): Affine {
  return [...space.srow.map((row) => [...row]), [0, 0, 0, 1]];
}

/**
 * The voxel-to-world matrix as nibabel's `img.affine` gives it (Nifti1Header.get_best_affine): the sform when
 * sform_code is set, else the qform when qform_code is set, else pixdims only (x flipped, origin at the centre).
 */
export function niftiAffine(header: NiftiHeader): Affine {
  const space = header.space;
  if (space.sformCode !== 0) return sformAffine(space);
  if (space.qformCode !== 0) return qformAffine(space);
  const shape = [0, 1, 2].map((i) => header.dims[i] ?? 1);
  const zooms = [0, 1, 2].map((i) => header.pixdim[i] ?? 1);
  zooms[0] = -zooms[0];
  return [
    ...[0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? zooms[i] : 0)).concat(-((shape[i] - 1) / 2) * zooms[i])),
    [0, 0, 0, 1],
  ];
}
