import { type ByteReader, WINDOW_BYTES } from './byte-reader.js';

/** Whether bytes [from, to) are all zero: the padding writers and copy tools leave at the end. */
export async function isZeros(r: ByteReader, from: number, to: number): Promise<boolean> {
  for (let pos = from; pos < to; pos += WINDOW_BYTES) {
    const b = await r.read(pos, Math.min(WINDOW_BYTES, to - pos));
    if (b.some((x) => x !== 0)) return false;
  }
  return true;
}
