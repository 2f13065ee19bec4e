// Where the units of an audio file are (chunks, boxes, elements, pages, frames, tags) and where
// their size fields sit, so the mutators can cut, copy, swap and resize whole units instead of
// only flipping random bits (which the readers refuse at the first header). Best effort: a unit
// list stops where the bytes stop making sense.
import { parseMpegHeader } from '../../src/audio/codecs.js';
import { crc8, crc16, crc32ogg } from '../../src/audio/crc.js';
import { parseFlacFrameHeader, parseStreamInfo } from '../../src/audio/flac.js';

/** A size field: where it is, how it is written. */
export interface SizeField {
  at: number;
  /** 'u32le' / 'u32be' / 'u64be' / 'u24be' / 'syncsafe' / 'vint' (EBML, `width` bytes) / 'u8' / 'adts'. */
  kind: 'u32le' | 'u32be' | 'u64be' | 'u24be' | 'syncsafe' | 'vint' | 'u8' | 'adts';
  width: number;
}

/** One unit of a file: [start, end), its nesting depth, its name, its size field if any. */
export interface Unit {
  start: number;
  end: number;
  depth: number;
  name: string;
  size: SizeField | null;
}

/** The units of `b`, read as the format `type` names (file-type content types). */
export function unitsOf(b: Buffer, type: string): Unit[] {
  switch (type) {
    case 'audio/wav':
      return wavUnits(b);
    case 'audio/mp4':
      return mp4Units(b, 0, b.length, 0);
    case 'audio/webm':
      return ebmlUnits(b, 0, b.length, 0);
    case 'audio/ogg':
      return oggUnits(b);
    case 'audio/mpeg':
      return mpegUnits(b);
    case 'audio/aac':
      return adtsUnits(b);
    case 'audio/flac':
      return flacUnits(b);
    default:
      return [];
  }
}

function wavUnits(b: Buffer): Unit[] {
  const out: Unit[] = [];
  if (b.length < 12) return out;
  out.push({ start: 0, end: 12, depth: 0, name: 'RIFF', size: { at: 4, kind: 'u32le', width: 4 } });
  let pos = 12;
  while (pos + 8 <= b.length) {
    const size = b.readUInt32LE(pos + 4);
    const end = Math.min(b.length, pos + 8 + size + (size & 1));
    out.push({
      start: pos,
      end,
      depth: 1,
      name: b.toString('latin1', pos, pos + 4),
      size: { at: pos + 4, kind: 'u32le', width: 4 },
    });
    if (end <= pos) break;
    pos = end;
  }
  return out;
}

const MP4_CONTAINERS = new Set([
  'moov',
  'trak',
  'mdia',
  'minf',
  'stbl',
  'edts',
  'mvex',
  'moof',
  'traf',
  'udta',
  'dinf',
]);

function mp4Units(b: Buffer, from: number, to: number, depth: number): Unit[] {
  const out: Unit[] = [];
  let pos = from;
  while (pos + 8 <= to && depth < 12) {
    let size = b.readUInt32BE(pos);
    const name = b.toString('latin1', pos + 4, pos + 8);
    let header = 8;
    let field: SizeField = { at: pos, kind: 'u32be', width: 4 };
    if (size === 1 && pos + 16 <= to) {
      size = Number(b.readBigUInt64BE(pos + 8));
      header = 16;
      field = { at: pos + 8, kind: 'u64be', width: 8 };
    } else if (size === 0) size = to - pos;
    if (size < header) break;
    const end = Math.min(to, pos + size);
    out.push({ start: pos, end, depth, name, size: field });
    if (MP4_CONTAINERS.has(name)) out.push(...mp4Units(b, pos + header, end, depth + 1));
    if (name === 'stsd') out.push(...mp4Units(b, pos + header + 8, end, depth + 1));
    if (name === 'mp4a' || name === 'Opus') out.push(...mp4Units(b, pos + header + 28, end, depth + 1));
    pos = end;
  }
  return out;
}

/** EBML master elements the readers look into (RFC 9559). */
const EBML_MASTERS = new Set([
  0x1a45dfa3, 0x18538067, 0x114d9b74, 0x4dbb, 0x1549a966, 0x1654ae6b, 0xae, 0x1f43b675, 0xa0, 0x1c53bb6b,
  0xbb, 0xe1,
]);

function vintAt(b: Buffer, i: number, asId: boolean): { value: number; length: number } | null {
  const first = b[i];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23;
  if (length > (asId ? 4 : 8) || i + length > b.length) return null;
  let value = asId ? first : first & (0xff >> length);
  for (let k = 1; k < length; k++) value = value * 256 + (b[i + k] as number);
  return { value, length };
}

function ebmlUnits(b: Buffer, from: number, to: number, depth: number): Unit[] {
  const out: Unit[] = [];
  let pos = from;
  while (pos < to && depth < 8) {
    const id = vintAt(b, pos, true);
    if (!id) break;
    const size = vintAt(b, pos + id.length, false);
    if (!size) break;
    const data = pos + id.length + size.length;
    const unknown = size.value === 2 ** (7 * size.length) - 1;
    const end = unknown ? to : Math.min(to, data + size.value);
    out.push({
      start: pos,
      end,
      depth,
      name: id.value.toString(16),
      size: { at: pos + id.length, kind: 'vint', width: size.length },
    });
    if (EBML_MASTERS.has(id.value)) {
      const inner = ebmlUnits(b, data, end, depth + 1);
      out.push(...inner);
      if (unknown) {
        // An element of unknown size ends where its children stop.
        const last = inner.filter((u) => u.depth === depth + 1).at(-1);
        pos = last ? last.end : end;
        if (pos <= data) break;
        continue;
      }
    }
    if (end <= pos) break;
    pos = end;
  }
  return out;
}

function oggUnits(b: Buffer): Unit[] {
  const out: Unit[] = [];
  let pos = 0;
  while (pos + 27 <= b.length && b.toString('latin1', pos, pos + 4) === 'OggS') {
    const segments = b[pos + 26] as number;
    if (pos + 27 + segments > b.length) break;
    let body = 0;
    for (let k = 0; k < segments; k++) body += b[pos + 27 + k] as number;
    const end = Math.min(b.length, pos + 27 + segments + body);
    out.push({ start: pos, end, depth: 0, name: 'page', size: { at: pos + 26, kind: 'u8', width: 1 } });
    for (let k = 0; k < segments; k++)
      out.push({
        start: pos + 27 + k,
        end: pos + 28 + k,
        depth: 1,
        name: 'lacing',
        size: { at: pos + 27 + k, kind: 'u8', width: 1 },
      });
    pos = end;
  }
  return out;
}

function id3Units(b: Buffer, out: Unit[]): number {
  let pos = 0;
  while (pos + 10 <= b.length && b.toString('latin1', pos, pos + 3) === 'ID3') {
    const size =
      (((b[pos + 6] as number) & 0x7f) << 21) |
      (((b[pos + 7] as number) & 0x7f) << 14) |
      (((b[pos + 8] as number) & 0x7f) << 7) |
      ((b[pos + 9] as number) & 0x7f);
    const end = Math.min(b.length, pos + 10 + size);
    out.push({ start: pos, end, depth: 0, name: 'ID3', size: { at: pos + 6, kind: 'syncsafe', width: 4 } });
    pos = end;
  }
  return pos;
}

function mpegUnits(b: Buffer): Unit[] {
  const out: Unit[] = [];
  let pos = id3Units(b, out);
  while (pos + 4 <= b.length) {
    const h = parseMpegHeader(b.subarray(pos, pos + 4));
    if (!h) break;
    out.push({ start: pos, end: Math.min(b.length, pos + h.length), depth: 0, name: 'frame', size: null });
    pos += h.length;
  }
  return out;
}

function adtsUnits(b: Buffer): Unit[] {
  const out: Unit[] = [];
  let pos = id3Units(b, out);
  while (pos + 7 <= b.length && b[pos] === 0xff && ((b[pos + 1] as number) & 0xf6) === 0xf0) {
    const length =
      (((b[pos + 3] as number) & 3) << 11) | ((b[pos + 4] as number) << 3) | ((b[pos + 5] as number) >> 5);
    if (length < 7) break;
    out.push({
      start: pos,
      end: Math.min(b.length, pos + length),
      depth: 0,
      name: 'frame',
      size: { at: pos + 3, kind: 'adts', width: 3 },
    });
    pos += length;
  }
  return out;
}

function flacUnits(b: Buffer): Unit[] {
  const out: Unit[] = [];
  let pos = id3Units(b, out);
  if (b.toString('latin1', pos, pos + 4) !== 'fLaC') return out;
  out.push({ start: pos, end: pos + 4, depth: 0, name: 'fLaC', size: null });
  pos += 4;
  let info = null;
  for (let last = false; !last && pos + 4 <= b.length; ) {
    last = ((b[pos] as number) & 0x80) !== 0;
    const length = b.readUIntBE(pos + 1, 3);
    const end = Math.min(b.length, pos + 4 + length);
    out.push({ start: pos, end, depth: 0, name: 'metadata', size: { at: pos + 1, kind: 'u24be', width: 3 } });
    if (info === null) info = parseStreamInfo(b.subarray(pos + 4, pos + 38));
    pos = end;
  }
  if (info === null) return out;
  // Frames: each valid header (CRC-8) starts one; the next valid header ends it.
  const starts: number[] = [];
  for (let i = pos; i + 16 <= b.length; i++) {
    if (b[i] === 0xff && parseFlacFrameHeader(b.subarray(i, i + 16), info)) starts.push(i);
  }
  for (let k = 0; k < starts.length; k++) {
    const end = k + 1 < starts.length ? (starts[k + 1] as number) : b.length;
    out.push({ start: starts[k] as number, end, depth: 0, name: 'frame', size: null });
  }
  return out;
}

/** Rewrites every Ogg page CRC that can be computed (pages found by walking `OggS` forward). */
export function fixOggCrcs(b: Buffer): Buffer {
  let pos = 0;
  while (pos + 27 <= b.length) {
    if (b.toString('latin1', pos, pos + 4) !== 'OggS') {
      const next = b.indexOf('OggS', pos + 1, 'latin1');
      if (next < 0) break;
      pos = next;
      continue;
    }
    const segments = b[pos + 26] as number;
    if (pos + 27 + segments > b.length) break;
    let body = 0;
    for (let k = 0; k < segments; k++) body += b[pos + 27 + k] as number;
    const end = pos + 27 + segments + body;
    if (end > b.length) break;
    b.writeUInt32LE(0, pos + 22);
    b.writeUInt32LE(crc32ogg(b.subarray(pos, end)), pos + 22);
    pos = end;
  }
  return b;
}

/** Rewrites a FLAC frame's header CRC-8 and footer CRC-16 in place (the frame is b[start, end)). */
export function fixFlacFrame(b: Buffer, start: number, end: number, headerLength: number): void {
  if (end - start < headerLength + 2) return;
  b[start + headerLength - 1] = crc8(b.subarray(start, start + headerLength - 1));
  b.writeUInt16BE(crc16(b.subarray(start, end - 2)), end - 2);
}

/** The header length of the FLAC frame at b[start..] (CRC-8 included), if it is one. */
export function flacHeaderLength(b: Buffer, start: number): number | null {
  const out: Unit[] = [];
  let pos = id3Units(b, out);
  if (b.toString('latin1', pos, pos + 4) !== 'fLaC') return null;
  const info = parseStreamInfo(b.subarray(pos + 8, pos + 42));
  pos += 4;
  if (info === null) return null;
  return parseFlacFrameHeader(b.subarray(start, start + 16), info)?.length ?? null;
}
