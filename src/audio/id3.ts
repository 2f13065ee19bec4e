import type { ByteReader } from './byte-reader.js';

/**
 * Where the audio starts after any ID3v2 tags at `pos` (ID3v2.4 §3.1: syncsafe size, +10 with a
 * footer), and the zero padding some taggers leave after a tag without counting it.
 */
export async function skipId3v2(r: ByteReader, pos: number): Promise<number> {
  let at = pos;
  for (;;) {
    const h = await r.read(at, 10);
    if (h.length < 10 || h.toString('latin1', 0, 3) !== 'ID3') break;
    const size =
      (((h[6] as number) & 0x7f) << 21) |
      (((h[7] as number) & 0x7f) << 14) |
      (((h[8] as number) & 0x7f) << 7) |
      ((h[9] as number) & 0x7f);
    at += 10 + size + ((h[5] as number) & 0x10 ? 10 : 0);
  }
  if (at === pos) return at;
  for (;;) {
    const b = await r.read(at, 4096);
    const i = b.findIndex((x) => x !== 0);
    if (i >= 0) return at + i;
    if (b.length === 0) return at;
    at += b.length;
  }
}

/**
 * Where the audio ends before the tags writers append (ID3v1 `TAG`, 128 bytes; APEv2 with its
 * 32-byte `APETAGEX` footer; Lyrics3 v2). Zero padding is left to the format reader: a last frame
 * may itself end in zero bytes.
 */
export async function audioEnd(r: ByteReader, start: number): Promise<number> {
  let end = r.size;
  for (let guard = 0; guard < 8 && end > start; guard++) {
    if (end - start >= 128 && (await r.read(end - 128, 3)).toString('latin1') === 'TAG') {
      end -= 128;
      continue;
    }
    if (end - start >= 32) {
      const f = await r.read(end - 32, 32);
      if (f.toString('latin1', 0, 8) === 'APETAGEX') {
        const size = f.readUInt32LE(12); // tag items + footer
        const header = f.readUInt32LE(20) & 0x80000000 ? 32 : 0;
        if (size + header <= end - start) {
          end -= size + header;
          continue;
        }
      }
    }
    if (end - start >= 15 && (await r.read(end - 9, 9)).toString('latin1') === 'LYRICS200') {
      const size = Number.parseInt((await r.read(end - 15, 6)).toString('latin1'), 10);
      if (Number.isInteger(size) && size + 15 <= end - start) {
        end -= size + 15;
        continue;
      }
    }
    break;
  }
  return end;
}
