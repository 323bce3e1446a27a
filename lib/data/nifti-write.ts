/**
 * NIfTI-1 single-file writer (`.nii`, or gzip-compressed when the name ends `.nii.gz`): little-endian, no extensions,
 * voxels at offset 352, no intensity scaling. The space fields (qform and sform with their codes, pixdims and qfac,
 * units, slice timing) are a source image's, so that an output lies where its input does in every viewer.
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { DataError } from './errors';
import type { NiftiSpace } from './nifti';

/** The voxel types written, with their NIfTI datatype codes and sizes. */
const WRITE_TYPES = {
  uint8: { code: 2, bytes: 1, set: (v: DataView, o: number, x: number) => v.setUint8(o, x) },
  int16: { code: 4, bytes: 2, set: (v: DataView, o: number, x: number) => v.setInt16(o, x, true) },
  float32: { code: 16, bytes: 4, set: (v: DataView, o: number, x: number) => v.setFloat32(o, x, true) },
} as const;

export type NiftiWriteType = keyof typeof WRITE_TYPES;

export interface NiftiImage {
  /** dim[1..]: x, y, z, then t, u, … (NiftyNet writes per-class maps as [x, y, z, 1, classes]). */
  dims: number[];
  datatype: NiftiWriteType;
  /** File order (x fastest). */
  data: ArrayLike<number>;
  /** Where the image lies: usually the source image's header.space. */
  space: NiftiSpace;
  /** The header's description (80 bytes at most). */
  descrip?: string;
}

const HEADER_BYTES = 348;
const VOX_OFFSET = 352;

function putString(bytes: Buffer, offset: number, length: number, text: string): void {
  bytes.write(text.slice(0, length - 1), offset, 'latin1');
}

/** The file's bytes (uncompressed). */
export function niftiBytes(image: NiftiImage): Buffer {
  const { dims, space } = image;
  if (dims.length < 1 || dims.length > 7 || dims.some((d) => !(Number.isInteger(d) && d >= 1 && d <= 32767))) {
    throw new Error(`NIfTI-1 dims must be 1 to 7 integers in 1..32767, got [${dims.join(', ')}]`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (image.data.length !== count) throw new Error(`${image.data.length} voxels for dims [${dims.join(', ')}] (${count})`);
  const type = WRITE_TYPES[image.datatype];
  const bytes = Buffer.alloc(VOX_OFFSET + count * type.bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  v.setInt32(0, HEADER_BYTES, true);
  bytes[38] = 'r'.charCodeAt(0);
  v.setUint8(39, space.dimInfo);
  v.setInt16(40, dims.length, true);
  dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  for (let i = dims.length; i < 7; i++) v.setInt16(42 + 2 * i, 1, true);
  v.setInt16(70, type.code, true);
  v.setInt16(72, 8 * type.bytes, true);
  v.setInt16(74, space.sliceStart, true);
  v.setFloat32(76, space.qfac === -1 ? -1 : 1, true);
  space.pixdimAll.slice(0, 7).forEach((p, i) => v.setFloat32(80 + 4 * i, p, true));
  v.setFloat32(108, VOX_OFFSET, true);
  v.setFloat32(112, 1, true); // scl_slope 1, scl_inter 0: the voxels are the values
  v.setInt16(120, space.sliceEnd, true);
  v.setUint8(122, space.sliceCode);
  v.setUint8(123, space.xyztUnits);
  v.setFloat32(132, space.sliceDuration, true);
  v.setFloat32(136, space.toffset, true);
  putString(bytes, 148, 80, image.descrip ?? '');
  v.setInt16(252, space.qformCode, true);
  v.setInt16(254, space.sformCode, true);
  [...space.quatern, ...space.qoffset].forEach((q, i) => v.setFloat32(256 + 4 * i, q, true));
  space.srow.forEach((row, r) => row.forEach((s, c) => v.setFloat32(280 + 16 * r + 4 * c, s, true)));
  putString(bytes, 344, 4, 'n+1');
  for (let i = 0, o = VOX_OFFSET; i < count; i++, o += type.bytes) type.set(v, o, image.data[i]);
  return bytes;
}

/** Writes `file` (gzip for .nii.gz); a file that cannot be written is a DataError naming it. */
export function writeNifti(file: string, image: NiftiImage): void {
  const raw = niftiBytes(image);
  try {
    writeFileSync(file, /\.gz$/i.test(file) ? gzipSync(raw) : raw);
  } catch (err) {
    throw new DataError(`${file}: cannot write the image (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      file, fix: 'check that the folder exists and is writable, and that the disk has room',
    });
  }
}
