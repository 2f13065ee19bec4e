// Seeded mutations of real audio files: generic byte edits (flips, insertions, deletions, cuts)
// and structure-aware ones that act on whole units (chunks, boxes, elements, pages, frames) and
// their size fields, so the readers are driven past their first header. The same seed always
// gives the same inputs.
import {
  fixFlacFrame,
  fixOggCrcs,
  flacHeaderLength,
  type SizeField,
  type Unit,
  unitsOf,
} from './structure.js';

/** A deterministic random source (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** The content types the readers take. */
export const TYPES = [
  'audio/mpeg',
  'audio/wav',
  'audio/mp4',
  'audio/aac',
  'audio/ogg',
  'audio/webm',
  'audio/flac',
] as const;

/** A fixture with the type it really is and its units. */
export interface Seed {
  name: string;
  type: string;
  bytes: Buffer;
  units: Unit[];
}

/** One fuzz input. */
export interface FuzzCase {
  /** What was done, e.g. `sample.ogg:size-field(page@137=0):as audio/webm`. */
  name: string;
  type: string;
  bytes: Buffer;
}

/** Builds a seed from a fixture. */
export function seedOf(name: string, type: string, bytes: Buffer): Seed {
  return { name, type, bytes, units: unitsOf(bytes, type) };
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/** The values a size field is set to: the edges of its range and near its current value. */
function sizeValues(rng: Rng, kind: SizeField['kind'], width: number, current: number, fileSize: number) {
  const max =
    kind === 'vint'
      ? 2 ** (7 * width) - 1
      : kind === 'syncsafe'
        ? 2 ** 28 - 1
        : kind === 'adts'
          ? 8191
          : kind === 'u64be'
            ? 2 ** 64 - 1
            : 2 ** (8 * width) - 1;
  return rng.pick([
    0,
    1,
    2,
    7,
    8,
    9,
    15,
    16,
    max,
    max - 1,
    Math.floor(max / 2),
    0x7fffffff,
    current - 1,
    current + 1,
    current * 2,
    fileSize,
    fileSize * 4,
    rng.int(Math.min(max, 2 ** 32)),
  ]);
}

/** Writes `value` into a size field (clamped to what the field can hold). */
export function writeSize(b: Buffer, f: SizeField, value: number): void {
  if (f.at + f.width > b.length) return;
  const v = Math.max(0, value);
  switch (f.kind) {
    case 'u32le':
      b.writeUInt32LE(Math.min(v, 0xffffffff) >>> 0, f.at);
      return;
    case 'u32be':
      b.writeUInt32BE(Math.min(v, 0xffffffff) >>> 0, f.at);
      return;
    case 'u64be':
      b.writeBigUInt64BE(BigInt(Math.min(v, 2 ** 64 - 1)) & 0xffffffffffffffffn, f.at);
      return;
    case 'u24be':
      b.writeUIntBE(Math.min(v, 0xffffff), f.at, 3);
      return;
    case 'u8':
      b[f.at] = Math.min(v, 255);
      return;
    case 'syncsafe': {
      const s = Math.min(v, 2 ** 28 - 1);
      b[f.at] = (s >> 21) & 0x7f;
      b[f.at + 1] = (s >> 14) & 0x7f;
      b[f.at + 2] = (s >> 7) & 0x7f;
      b[f.at + 3] = s & 0x7f;
      return;
    }
    case 'adts': {
      const s = Math.min(v, 8191);
      b[f.at] = ((b[f.at] as number) & 0xfc) | (s >> 11);
      b[f.at + 1] = (s >> 3) & 0xff;
      b[f.at + 2] = ((b[f.at + 2] as number) & 0x1f) | ((s & 7) << 5);
      return;
    }
    case 'vint': {
      // Keep the field's width: marker bit at 1 << (8 * width - width).
      const s = Math.min(v, 2 ** (7 * f.width) - 1);
      let rest = s;
      for (let k = f.width - 1; k >= 0; k--) {
        b[f.at + k] = rest % 256;
        rest = Math.floor(rest / 256);
      }
      b[f.at] = ((b[f.at] as number) & (0xff >> f.width)) | (0x80 >> (f.width - 1));
      return;
    }
  }
}

function readSize(b: Buffer, f: SizeField): number {
  if (f.at + f.width > b.length) return 0;
  switch (f.kind) {
    case 'u32le':
      return b.readUInt32LE(f.at);
    case 'u32be':
      return b.readUInt32BE(f.at);
    case 'u64be':
      return Number(b.readBigUInt64BE(f.at));
    case 'u24be':
      return b.readUIntBE(f.at, 3);
    case 'u8':
      return b[f.at] as number;
    case 'syncsafe':
      return (
        (((b[f.at] as number) & 0x7f) << 21) |
        (((b[f.at + 1] as number) & 0x7f) << 14) |
        (((b[f.at + 2] as number) & 0x7f) << 7) |
        ((b[f.at + 3] as number) & 0x7f)
      );
    case 'adts':
      return (
        (((b[f.at] as number) & 3) << 11) | ((b[f.at + 1] as number) << 3) | ((b[f.at + 2] as number) >> 5)
      );
    case 'vint': {
      let v = (b[f.at] as number) & (0xff >> f.width);
      for (let k = 1; k < f.width; k++) v = v * 256 + (b[f.at + k] as number);
      return v;
    }
  }
}

type Op = (rng: Rng, b: Buffer, seed: Seed, others: readonly Seed[]) => [string, Buffer];

const cat = (...parts: Buffer[]) => Buffer.concat(parts);

const OPS: Record<string, Op> = {
  bitflip: (rng, b) => {
    const out = Buffer.from(b);
    const n = 1 + rng.int(8);
    for (let k = 0; k < n; k++) {
      const i = rng.int(out.length);
      out[i] = (out[i] as number) ^ (1 << rng.int(8));
    }
    return [`bitflip(${n})`, out];
  },
  'set-byte': (rng, b) => {
    const out = Buffer.from(b);
    const i = rng.int(out.length);
    out[i] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.int(256);
    return [`set-byte@${i}`, out];
  },
  insert: (rng, b) => {
    const i = rng.int(b.length + 1);
    const n = 1 + rng.int(rng.chance(0.8) ? 16 : 512);
    const fill = rng.chance(0.5) ? rng.bytes(n) : Buffer.alloc(n, rng.pick(INTERESTING));
    return [`insert(${n})@${i}`, cat(b.subarray(0, i), fill, b.subarray(i))];
  },
  delete: (rng, b) => {
    const i = rng.int(b.length);
    const n = 1 + rng.int(rng.chance(0.8) ? 16 : 512);
    return [`delete(${n})@${i}`, cat(b.subarray(0, i), b.subarray(i + n))];
  },
  'truncate-random': (rng, b) => {
    const i = rng.int(b.length);
    return [`truncate@${i}`, Buffer.from(b.subarray(0, i))];
  },
  'truncate-boundary': (rng, b, seed) => {
    const u = rng.pick(seed.units);
    if (!u) return ['truncate@half', Buffer.from(b.subarray(0, b.length >> 1))];
    const headerEnd = u.size ? u.size.at + u.size.width : u.start + 1;
    const at = rng.pick([u.start, u.end, headerEnd, u.start + 1, u.end - 1, u.end + 1, u.start - 1]);
    const cut = Math.max(0, Math.min(b.length, at));
    return [`truncate(${u.name}@${u.start})@${cut}`, Buffer.from(b.subarray(0, cut))];
  },
  'size-field': (rng, b, seed) => {
    const sized = seed.units.filter((u) => u.size);
    const u = rng.pick(sized);
    if (!u?.size) return OPS.bitflip?.(rng, b, seed, []) as [string, Buffer];
    const out = Buffer.from(b);
    const v = sizeValues(rng, u.size.kind, u.size.width, readSize(b, u.size), b.length);
    writeSize(out, u.size, v);
    return [`size(${u.name}@${u.start}=${v})`, out];
  },
  'duplicate-unit': (rng, b, seed) => {
    const u = rng.pick(seed.units);
    if (!u) return ['append-copy', cat(b, b)];
    const times = rng.chance(0.7) ? 1 : 2 + rng.int(40);
    const copies = Array.from({ length: times }, () => b.subarray(u.start, u.end));
    return [`dup(${u.name}@${u.start}x${times})`, cat(b.subarray(0, u.end), ...copies, b.subarray(u.end))];
  },
  'delete-unit': (rng, b, seed) => {
    const u = rng.pick(seed.units);
    if (!u) return ['delete-first-half', Buffer.from(b.subarray(b.length >> 1))];
    return [`del(${u.name}@${u.start})`, cat(b.subarray(0, u.start), b.subarray(u.end))];
  },
  'swap-units': (rng, b, seed) => {
    const a = rng.pick(seed.units);
    if (!a) return ['swap-halves', cat(b.subarray(b.length >> 1), b.subarray(0, b.length >> 1))];
    const same = seed.units.filter((u) => u.depth === a.depth && (u.end <= a.start || u.start >= a.end));
    const c = rng.pick(same);
    if (!c) return [`dup(${a.name}@${a.start})`, cat(b.subarray(0, a.end), b.subarray(a.start))];
    const [x, y] = a.start < c.start ? [a, c] : [c, a];
    return [
      `swap(${x.name}@${x.start},${y.name}@${y.start})`,
      cat(
        b.subarray(0, x.start),
        b.subarray(y.start, y.end),
        b.subarray(x.end, y.start),
        b.subarray(x.start, x.end),
        b.subarray(y.end),
      ),
    ];
  },
  'random-after-header': (rng, b, seed) => {
    const u = rng.pick(seed.units.slice(0, 12));
    const keep = u ? (rng.chance(0.5) ? u.end : (u.size?.at ?? u.start) + (u.size?.width ?? 0)) : 16;
    return [`hdr(${keep})+rand`, cat(b.subarray(0, keep), rng.bytes(Math.max(0, b.length - keep)))];
  },
  'random-body': (rng, b, seed) => {
    const u = rng.pick(seed.units);
    const out = Buffer.from(b);
    if (!u) return ['rand-middle', out];
    const from = u.size ? u.size.at + u.size.width : u.start + 4;
    for (let i = from; i < u.end && i < out.length; i++) out[i] = rng.int(256);
    return [`rand-body(${u.name}@${u.start})`, out];
  },
  append: (rng, b) => {
    const tail = rng.pick([
      () => rng.bytes(1 + rng.int(300)),
      () => Buffer.alloc(1 + rng.int(300)),
      () => cat(Buffer.from('TAG'), rng.bytes(125)),
      () => cat(Buffer.from('ID3\x04\x00\x00'), Buffer.from([0x7f, 0x7f, 0x7f, 0x7f])),
      () => cat(Buffer.from('OggS\0'), rng.bytes(40)),
      () => Buffer.from('0000000866726565', 'hex'),
      () => cat(Buffer.from('1f43b67501ffffffffffffff', 'hex'), rng.bytes(30)),
      () => cat(Buffer.from('LIST'), Buffer.from([0xff, 0xff, 0xff, 0x7f])),
    ])();
    return [`append(${tail.length})`, cat(b, tail)];
  },
  splice: (rng, b, seed, others) => {
    const o = rng.pick(others);
    const u = o && rng.pick(o.units);
    const at = rng.pick(seed.units)?.start ?? rng.int(b.length);
    if (!o || !u) return ['noop', b];
    return [
      `splice(${o.name}:${u.name}@${u.start})@${at}`,
      cat(b.subarray(0, at), o.bytes.subarray(u.start, u.end), b.subarray(at)),
    ];
  },
  'id3-prefix': (rng, b) => {
    const size = rng.pick([0, 1, 10, 0x0fffffff, b.length, rng.int(2 ** 28)]);
    const h = Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1');
    writeSize(h, { at: 6, kind: 'syncsafe', width: 4 }, size);
    if (rng.chance(0.3)) h[5] = 0x10; // a footer
    return [`id3-prefix(${size})`, cat(h, b)];
  },
};

/** Mutates the seed once or a few times over; for Ogg and FLAC, often repairs the checksums after. */
export function mutate(rng: Rng, seed: Seed, others: readonly Seed[]): FuzzCase {
  const names = Object.keys(OPS);
  let bytes: Buffer = seed.bytes;
  const done: string[] = [];
  const rounds = rng.chance(0.7) ? 1 : 2 + rng.int(3);
  for (let k = 0; k < rounds; k++) {
    const opName = rng.pick(names);
    const current = k === 0 ? seed : { ...seed, bytes, units: unitsOf(bytes, seed.type) };
    const [what, out] = (OPS[opName] as Op)(rng, bytes, current, others);
    done.push(what);
    bytes = out;
  }
  if (seed.type === 'audio/ogg' && rng.chance(0.6)) {
    bytes = fixOggCrcs(Buffer.from(bytes));
    done.push('crc-fixed');
  }
  if (seed.type === 'audio/flac' && rng.chance(0.3)) {
    // Change a frame's payload and make both its CRCs right again: only the deeper checks see it.
    const frames = seed.units.filter((u) => u.name === 'frame');
    const f = rng.pick(frames);
    const header = f && flacHeaderLength(seed.bytes, f.start);
    if (f && header) {
      const out = Buffer.from(seed.bytes);
      for (let n = 1 + rng.int(8); n > 0; n--) out[f.start + rng.int(f.end - f.start)] = rng.int(256);
      out[f.start] = 0xff;
      fixFlacFrame(out, f.start, f.end, header);
      bytes = out;
      done.splice(0, done.length, `flac-frame-edit@${f.start}+crc`);
    }
  }
  const type = rng.chance(0.12) ? rng.pick(TYPES) : seed.type;
  return { name: `${seed.name}:${done.join('+')}${type === seed.type ? '' : `:as ${type}`}`, type, bytes };
}
