/**
 * The checksums the formats carry (MSB-first, no reflection, no final XOR): FLAC's CRC-8 (poly
 * 0x07) on each frame header and CRC-16 (poly 0x8005) on each frame (RFC 9639 §9.1), MP3's
 * CRC-16 (same polynomial, initial 0xFFFF; ISO 11172-3 §2.4.3.1), and Ogg's CRC-32 (poly
 * 0x04C11DB7; RFC 3533 §6). node:zlib's crc32 is the reflected CRC-32, not Ogg's. The 16- and
 * 32-bit ones take four bytes a step ("slicing-by-4" tables), about 3x faster than one at a time:
 * every byte of a FLAC or Ogg file goes through them.
 */

/** tables[k][i]: the CRC register after byte i followed by k zero bytes. */
function tables(bits: number, poly: number): Uint32Array[] {
  const mask = 2 ** bits - 1;
  const top = 2 ** (bits - 1);
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = (i * 2 ** (bits - 8)) >>> 0;
    for (let k = 0; k < 8; k++) c = (c & top ? ((c * 2) ^ poly) & mask : (c * 2) & mask) >>> 0;
    t0[i] = c;
  }
  const out = [t0];
  for (let k = 1; k < 4; k++) {
    const prev = out[k - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      const c = prev[i] as number;
      t[i] = ((c * 256) & mask) ^ (t0[Math.floor(c / 2 ** (bits - 8))] as number);
    }
    out.push(t);
  }
  return out;
}

const CRC8 = (tables(8, 0x07)[0] as Uint32Array).map((x) => x);
const [A0, A1, A2, A3] = tables(16, 0x8005) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
const [B0, B1, B2, B3] = tables(32, 0x04c11db7).map((t) => new Int32Array(t.buffer)) as [
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
];

/** FLAC's frame-header CRC-8 of `bytes`. */
export function crc8(bytes: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < bytes.length; i++) c = CRC8[c ^ (bytes[i] as number)] as number;
  return c;
}

/** CRC-16 (poly 0x8005) of bytes[from, to) continuing from `crc` (FLAC starts at 0, MP3 at 0xFFFF). */
export function crc16(bytes: Uint8Array, crc = 0, from = 0, to = bytes.length): number {
  let c = crc;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    c =
      (A3[(c >>> 8) ^ (bytes[i] as number)] as number) ^
      (A2[(c & 0xff) ^ (bytes[i + 1] as number)] as number) ^
      (A1[bytes[i + 2] as number] as number) ^
      (A0[bytes[i + 3] as number] as number);
  }
  for (; i < to; i++) c = ((c << 8) & 0xffff) ^ (A0[(c >>> 8) ^ (bytes[i] as number)] as number);
  return c;
}

/** Ogg's page CRC-32 of `bytes` continuing from `crc`. */
export function crc32ogg(bytes: Uint8Array, crc = 0): number {
  let c = crc | 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 4 <= n; i += 4) {
    c ^=
      ((bytes[i] as number) << 24) |
      ((bytes[i + 1] as number) << 16) |
      ((bytes[i + 2] as number) << 8) |
      (bytes[i + 3] as number);
    c =
      (B3[c >>> 24] as number) ^
      (B2[(c >>> 16) & 0xff] as number) ^
      (B1[(c >>> 8) & 0xff] as number) ^
      (B0[c & 0xff] as number);
  }
  for (; i < n; i++) c = (c << 8) ^ (B0[((c >>> 24) ^ (bytes[i] as number)) & 0xff] as number);
  return c >>> 0;
}
