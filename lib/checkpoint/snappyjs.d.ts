// snappyjs ships no types; thaw only uses raw-block decompression (and compression in tests).
declare module 'snappyjs' {
  export function uncompress<T extends ArrayBuffer | Uint8Array>(compressed: T, maxLength?: number): T;
  export function compress<T extends ArrayBuffer | Uint8Array>(uncompressed: T): T;
}
