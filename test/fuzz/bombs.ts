// Hand-made hostile inputs, each built to a requested size: the shapes a mutation rarely reaches
// (nested size bombs, huge counts behind small tables, very many tiny units, deep nesting,
// checksums made right so the reader goes on). Timing one at 100 KiB and at 10 MiB shows
// whether a reader's cost grows faster than its input.
import { crc8, crc32ogg } from '../../src/audio/crc.js';

/** A hostile input of about `size` bytes. */
export interface Bomb {
  name: string;
  type: string;
  build: (size: number) => Buffer;
}

const u8 = (...v: number[]) => Buffer.from(v);
const u16 = (...v: number[]) => {
  const b = Buffer.alloc(2 * v.length);
  for (const [i, x] of v.entries()) b.writeUInt16BE(x, 2 * i);
  return b;
};
const u32 = (...v: number[]) => {
  const b = Buffer.alloc(4 * v.length);
  for (const [i, x] of v.entries()) b.writeUInt32BE(x >>> 0, 4 * i);
  return b;
};
/** Concatenation for a few parts (a spread of thousands would overflow the stack: use Buffer.concat). */
const cat = (...parts: Buffer[]) => Buffer.concat(parts);
const str = (s: string) => Buffer.from(s, 'latin1');

// --- MP4 ---------------------------------------------------------------------------------------

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = cat(...parts);
  return cat(u32(8 + body.length), str(type), body);
}
function full(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, u8(version, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff), ...parts);
}
const ftyp = () => box('ftyp', str('M4A '), u32(0), str('M4A mp42isom'));
const mvhd = () => full('mvhd', 0, 0, u32(0, 0, 1000, 0), Buffer.alloc(80));
const tkhd = () => full('tkhd', 0, 3, u32(0, 0, 1, 0, 0), Buffer.alloc(60));
const mdhd = (timescale = 1000) => full('mdhd', 0, 0, u32(0, 0, timescale, 0), u16(0, 0));
const hdlr = () => full('hdlr', 0, 0, u32(0), str('soun'), Buffer.alloc(13));
/** A sample entry whose codec the reader does not check ('samr': AMR), or a given one. */
const soundEntry = (format = 'samr', ...extra: Buffer[]) =>
  box(format, Buffer.alloc(6), u16(1), Buffer.alloc(8), u16(1, 16, 0, 0), u32(44100 * 65536), ...extra);
const stsd = (entry: Buffer) => full('stsd', 0, 0, u32(1), entry);

interface Table {
  entry?: Buffer;
  stts: [number, number][];
  stsc: [number, number, number][];
  fixed: number;
  sizes: number[] | Buffer;
  chunks: number[] | Buffer;
}
function moov(t: Table, ...more: Buffer[]): Buffer {
  const sizes = Buffer.isBuffer(t.sizes) ? t.sizes : u32(...t.sizes);
  const count = Buffer.isBuffer(t.sizes) ? t.sizes.length / 4 : t.sizes.length;
  const chunks = Buffer.isBuffer(t.chunks) ? t.chunks : u32(...t.chunks);
  const stbl = box(
    'stbl',
    stsd(t.entry ?? soundEntry()),
    full('stts', 0, 0, u32(t.stts.length, ...t.stts.flat())),
    full('stsc', 0, 0, u32(t.stsc.length, ...t.stsc.flat())),
    full('stsz', 0, 0, u32(t.fixed, t.fixed ? t.stts.reduce((a, [n]) => a + n, 0) : count), sizes),
    full('stco', 0, 0, u32(chunks.length / 4), chunks),
  );
  return box('moov', mvhd(), box('trak', tkhd(), box('mdia', mdhd(), hdlr(), box('minf', stbl))), ...more);
}

/** moov first, then its mdat, then `size` bytes of 8-byte free boxes: many top-level boxes. */
function mp4FreeBoxes(size: number): Buffer {
  const head = ftyp();
  const m = moov({ stts: [[1, 1000]], stsc: [[1, 1, 1]], fixed: 4, sizes: [], chunks: [0] });
  const offset = head.length + m.length + 8;
  const fixed = moov({ stts: [[1, 1000]], stsc: [[1, 1, 1]], fixed: 4, sizes: [], chunks: [offset] });
  const frees = Buffer.alloc(Math.max(0, size - offset - 4));
  for (let i = 0; i + 8 <= frees.length; i += 8) frees.write('\0\0\0\x08free', i, 'latin1');
  return cat(head, fixed, box('mdat', u32(0x01020304)), frees.subarray(0, frees.length - (frees.length % 8)));
}

/** Empty mdat boxes by the thousand, and a sample table of empty samples in the last one. */
function mp4EmptyMdats(size: number): Buffer {
  const head = ftyp();
  const samples = Math.min(Math.floor(size / 8), 500_000); // the moov stays under its 2 MiB bound
  const mdats = Math.max(1, Math.floor((size - samples * 4) / 8));
  const probe = moov({
    stts: [[samples, 1]],
    stsc: [[1, samples, 1]],
    fixed: 0,
    sizes: Buffer.alloc(4 * samples),
    chunks: [0],
  });
  const lastBody = head.length + probe.length + 8 * mdats;
  const m = moov({
    stts: [[samples, 1]],
    stsc: [[1, samples, 1]],
    fixed: 0,
    sizes: Buffer.alloc(4 * samples),
    chunks: [lastBody],
  });
  const empty = Buffer.alloc(8 * mdats);
  for (let i = 0; i < mdats; i++) empty.write('\0\0\0\x08mdat', 8 * i, 'latin1');
  return cat(head, m, empty);
}

/** A fragment whose track run declares 2^32 - 1 samples of the default size, 0 bytes each. */
function mp4TrunEmptySamples(size: number): Buffer {
  const trex = full('trex', 0, 0, u32(1, 1, 1024, 0, 0));
  const m = moov({ stts: [], stsc: [], fixed: 0, sizes: [], chunks: [] }, box('mvex', trex));
  const runs = Math.max(1, Math.min(Math.floor((size - 200) / 24), 1000));
  // Each run's data offset (flag 0x1) points into the mdat after the moof.
  const moofBytes = 8 + 16 + 8 + 16 + 20 * runs;
  const truns = Array.from({ length: runs }, () => full('trun', 0, 1, u32(0xffffffff, moofBytes + 8)));
  const moof = box('moof', full('mfhd', 0, 0, u32(1)), box('traf', full('tfhd', 0, 0, u32(1)), ...truns));
  if (moof.length !== moofBytes) throw new Error('moof size');
  return cat(ftyp(), m, moof, box('mdat', u32(0)));
}

/**
 * Ten real 1-byte samples in one track run, then a run of 2^32 - 1 empty ones: the empty samples
 * carry no audio, so the length is the ten samples' (10 x 1024 ticks at 1000 per second).
 */
function mp4EmptyRunAfterReal(_size: number): Buffer {
  const trex = full('trex', 0, 0, u32(1, 1, 1024, 0, 0));
  const m = moov({ stts: [], stsc: [], fixed: 0, sizes: [], chunks: [] }, box('mvex', trex));
  const moofBytes = 8 + 16 + 8 + 16 + 60 + 20;
  const real = full('trun', 0, 0x201, u32(10, moofBytes + 8, ...Array.from({ length: 10 }, () => 1)));
  const empty = full('trun', 0, 1, u32(0xffffffff, moofBytes + 8));
  const moof = box('moof', full('mfhd', 0, 0, u32(1)), box('traf', full('tfhd', 0, 0, u32(1)), real, empty));
  if (moof.length !== moofBytes) throw new Error('moof size');
  return cat(ftyp(), m, moof, box('mdat', Buffer.alloc(10, 0x40)));
}

/**
 * A sample table of one real 1-byte sample and 2^18 empty ones of the same duration (1 s at
 * timescale 1000): the length is the real sample's, 1 s.
 */
function mp4EmptyTableSamples(_size: number): Buffer {
  const head = ftyp();
  const empty = 2 ** 18;
  const sizes = Buffer.alloc(4 * (empty + 1));
  sizes.writeUInt32BE(1, 0);
  const table = (offset: number) =>
    moov({ stts: [[empty + 1, 1000]], stsc: [[1, empty + 1, 1]], fixed: 0, sizes, chunks: [offset] });
  const m = table(head.length + table(0).length + 8);
  return cat(head, m, box('mdat', Buffer.from([0x40])));
}

/** Chunks that all start at the same byte, each holding as many 1-byte samples as the mdat has. */
function mp4OverlappingChunks(size: number): Buffer {
  const head = ftyp();
  const mdatBody = 1024;
  const chunks = Math.max(1, Math.min(Math.floor((size - 2000) / 4), 500_000));
  const draft = moov({
    stts: [[0xffffffff, 1]],
    stsc: [[1, mdatBody, 1]],
    fixed: 1,
    sizes: [],
    chunks: Buffer.alloc(4 * chunks),
  });
  const offsets = Buffer.alloc(4 * chunks);
  for (let i = 0; i < chunks; i++) offsets.writeUInt32BE(head.length + draft.length + 8, 4 * i);
  const m = moov({ stts: [[0xffffffff, 1]], stsc: [[1, mdatBody, 1]], fixed: 1, sizes: [], chunks: offsets });
  return cat(head, m, box('mdat', Buffer.alloc(mdatBody, 0x40)));
}

/** A sample entry with `wave` boxes nested as deep as the size allows (QuickTime puts esds in one). */
function mp4DeepWave(size: number): Buffer {
  const depth = Math.max(1, Math.min(Math.floor((size - 400) / 8), 260_000));
  // Headers written outside in, each counting everything inside it (building by concatenation
  // would copy the whole nest once per level).
  const esds = box('esds', Buffer.alloc(4));
  const nest = Buffer.alloc(8 * depth + esds.length);
  for (let i = 0; i < depth; i++) {
    nest.writeUInt32BE(nest.length - 8 * i, 8 * i);
    nest.write('wave', 8 * i + 4, 'latin1');
  }
  esds.copy(nest, 8 * depth);
  const entry = soundEntry('mp4a', nest);
  const head = ftyp();
  const draft = moov({ entry, stts: [[1, 1024]], stsc: [[1, 1, 1]], fixed: 4, sizes: [], chunks: [0] });
  const m = moov({
    entry,
    stts: [[1, 1024]],
    stsc: [[1, 1, 1]],
    fixed: 4,
    sizes: [],
    chunks: [head.length + draft.length + 8],
  });
  return cat(head, m, box('mdat', u32(0x40404040)));
}

/** Boxes of size 1 whose 64-bit size is huge: at the top, and inside the moov. */
function mp4LargeSizes(size: number): Buffer {
  const big = (type: string) => cat(u32(1), str(type), Buffer.from('7fffffffffffffff', 'hex'));
  const head = ftyp();
  const m = moov({ stts: [[1, 1024]], stsc: [[1, 1, 1]], fixed: 4, sizes: [], chunks: [0] }, big('udta'));
  return cat(head, m, big('mdat'), Buffer.alloc(Math.max(0, size - head.length - m.length - 16), 0x40));
}

/** Fixed 1-byte samples filling an mdat of the given size (no codec check): many samples, all real. */
function mp4TinySamples(size: number): Buffer {
  const head = ftyp();
  const n = Math.max(1, size - 1000);
  const draft = moov({ stts: [[n, 1]], stsc: [[1, n, 1]], fixed: 1, sizes: [], chunks: [0] });
  const m = moov({
    stts: [[n, 1]],
    stsc: [[1, n, 1]],
    fixed: 1,
    sizes: [],
    chunks: [head.length + draft.length + 8],
  });
  return cat(head, m, box('mdat', Buffer.alloc(n, 0x11)));
}

/** Many empty moof boxes after a whole file. */
function mp4ManyMoofs(size: number): Buffer {
  const head = ftyp();
  const trex = full('trex', 0, 0, u32(1, 1, 1024, 4, 0));
  const draft = moov({ stts: [], stsc: [], fixed: 0, sizes: [], chunks: [] }, box('mvex', trex));
  const moofs = Buffer.alloc(Math.max(0, Math.floor((size - 200) / 8) * 8));
  for (let i = 0; i + 8 <= moofs.length; i += 8) moofs.write('\0\0\0\x08moof', i, 'latin1');
  const traf = box('traf', full('tfhd', 0, 0, u32(1)), full('trun', 0, 1, u32(1), u32(0)));
  const moof = box('moof', traf);
  // The one real fragment: its trun's data offset points into the mdat that follows it.
  const fixedMoof = box(
    'moof',
    box('traf', full('tfhd', 0, 0, u32(1)), full('trun', 0, 1, u32(1), u32(moof.length + 8))),
  );
  return cat(head, draft, fixedMoof, box('mdat', u32(0x40404040)), moofs);
}

// --- WebM / Matroska ---------------------------------------------------------------------------

function idBytes(id: number): Buffer {
  const n = id < 0x100 ? 1 : id < 0x10000 ? 2 : id < 0x1000000 ? 3 : 4;
  const b = Buffer.alloc(n);
  b.writeUIntBE(id, 0, n);
  return b;
}
function vsize(n: number): Buffer {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const b = Buffer.alloc(len);
      let rest = n;
      for (let k = len - 1; k >= 0; k--) {
        b[k] = rest % 256;
        rest = Math.floor(rest / 256);
      }
      b[0] = (b[0] as number) | (0x80 >> (len - 1));
      return b;
    }
  }
  throw new Error('too large');
}
const UNKNOWN = Buffer.from('01ffffffffffffff', 'hex');
function el(id: number, ...parts: Buffer[]): Buffer {
  const body = cat(...parts);
  return cat(idBytes(id), vsize(body.length), body);
}
const ebmlHeader = () => el(0x1a45dfa3, el(0x4282, str('webm')));
const info = () => el(0x1549a966, el(0x2ad7b1, u8(0x0f, 0x42, 0x40)));
const tracks = (codec = 'A_OPUS') =>
  el(0x1654ae6b, el(0xae, el(0xd7, u8(1)), el(0x83, u8(2)), el(0x86, str(codec))));
/** A SimpleBlock of track 1 at `timecode` holding one 20 ms Opus packet. */
const opusBlock = (timecode: number) =>
  el(0xa3, u8(0x81), u16(timecode & 0xffff), u8(0x80, 0xf8, 0x01, 0x02));

/** Clusters of unknown size, one after another, each ended by the next: then one real cluster. */
function webmUnknownClusters(size: number): Buffer {
  const head = cat(ebmlHeader(), idBytes(0x18538067), UNKNOWN, info(), tracks());
  const one = cat(idBytes(0x1f43b675), UNKNOWN);
  const n = Math.max(1, Math.floor((size - head.length - 40) / one.length));
  return cat(
    head,
    Buffer.concat(Array.from({ length: n }, () => one)),
    el(0x1f43b675, el(0xe7, u8(0)), opusBlock(0)),
  );
}

/** One known-size cluster holding nothing but 2-byte Void elements, then a block. */
function webmVoids(size: number): Buffer {
  const head = cat(ebmlHeader(), info(), tracks());
  const n = Math.max(1, Math.floor((size - head.length - 60) / 2));
  const voids = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) voids.writeUInt16BE(0xec80, 2 * i);
  const segment = el(
    0x18538067,
    head.subarray(ebmlHeader().length),
    el(0x1f43b675, el(0xe7, u8(0)), voids, opusBlock(0)),
  );
  return cat(ebmlHeader(), segment);
}

/** Many small valid blocks, in clusters of 1000: a real shape, for timing. */
function webmManyBlocks(size: number): Buffer {
  const head = cat(info(), tracks());
  const clusters: Buffer[] = [];
  let total = head.length;
  let ts = 0;
  while (total < size - 100) {
    const blocks = Array.from({ length: 1000 }, (_, i) => opusBlock(i * 20));
    const c = el(0x1f43b675, el(0xe7, u32(ts)), ...blocks);
    clusters.push(c);
    total += c.length;
    ts += 20000;
  }
  return cat(ebmlHeader(), el(0x18538067, head, ...clusters));
}

/** Blocks with the most Xiph lacing there can be: 256 frames whose sizes are long runs of 255. */
function webmXiphLacing(size: number): Buffer {
  const frames = 256;
  const per = 5 * 255; // the longest Opus frame (1275 bytes), its size written as 255 x 5 and a 0
  const lacing: number[] = [];
  for (let f = 0; f < frames - 1; f++) lacing.push(...Array(5).fill(255), 0);
  const payload = Buffer.alloc(per * (frames - 1) + 1, 0xf8);
  const block = el(0xa3, u8(0x81), u16(0), u8(0x82, frames - 1), Buffer.from(lacing), payload);
  const n = Math.max(1, Math.floor(size / block.length));
  return cat(
    ebmlHeader(),
    el(
      0x18538067,
      info(),
      tracks(),
      el(0x1f43b675, el(0xe7, u8(0)), Buffer.concat(Array.from({ length: n }, () => block))),
    ),
  );
}

/** Elements with 8-byte sizes near 2^56 (not the unknown marker) and the largest IDs. */
function webmHugeSizes(size: number): Buffer {
  const huge = Buffer.from('01fffffffffffffe', 'hex');
  return cat(
    ebmlHeader(),
    idBytes(0x18538067),
    UNKNOWN,
    info(),
    tracks(),
    el(0x1f43b675, el(0xe7, u8(0)), opusBlock(0)),
    u32(0x1fffffff),
    huge,
    Buffer.alloc(Math.max(0, size - 200)),
  );
}

/** Info elements of just under 1 MiB each (a Void inside), one after another. */
function webmBigInfos(size: number): Buffer {
  const bigInfo = el(
    0x1549a966,
    el(0x2ad7b1, u8(0x0f, 0x42, 0x40)),
    el(0xec, Buffer.alloc(1024 * 1024 - 30)),
  );
  const n = Math.max(1, Math.floor(size / bigInfo.length));
  return cat(
    ebmlHeader(),
    el(
      0x18538067,
      ...Array.from({ length: n }, () => bigInfo),
      tracks(),
      el(0x1f43b675, el(0xe7, u8(0)), opusBlock(0)),
    ),
  );
}

/** Block groups nested in block groups as deep as the size allows (EBML nesting). */
function webmDeepNesting(size: number): Buffer {
  const depth = Math.max(1, Math.min(Math.floor(size / 10), 100_000));
  const inner = el(0xa1, u8(0x81), u16(0), u8(0x00, 0xf8));
  // Headers from the inside out, joined once (concatenating per level would be quadratic).
  const headers: Buffer[] = [];
  let length = inner.length;
  for (let i = 0; i < depth; i++) {
    const h = cat(idBytes(i % 2 ? 0xa0 : 0x1f43b675), vsize(length));
    headers.push(h);
    length += h.length;
  }
  return Buffer.concat([
    ebmlHeader(),
    idBytes(0x18538067),
    UNKNOWN,
    info(),
    tracks(),
    ...headers.reverse(),
    inner,
  ]);
}

// --- Ogg ---------------------------------------------------------------------------------------

function lacingOf(length: number): number[] {
  const out = Array(Math.floor(length / 255)).fill(255);
  out.push(length % 255);
  return out;
}
function page(o: {
  flags: number;
  granule: number;
  serial: number;
  seq: number;
  lacing: number[];
  body: Buffer;
}): Buffer {
  const h = Buffer.alloc(27);
  h.write('OggS', 0, 'latin1');
  h[5] = o.flags;
  if (o.granule < 0) h.writeBigInt64LE(-1n, 6);
  else h.writeBigUInt64LE(BigInt(o.granule), 6);
  h.writeUInt32LE(o.serial, 14);
  h.writeUInt32LE(o.seq, 18);
  h[26] = o.lacing.length;
  const p = cat(h, Buffer.from(o.lacing), o.body);
  p.writeUInt32LE(crc32ogg(p), 22);
  return p;
}
const opusHead = () =>
  cat(str('OpusHead'), u8(1, 1), Buffer.from([0x38, 0x01]), Buffer.from([0x80, 0xbb, 0, 0]), u8(0, 0, 0));
const opusTags = () => cat(str('OpusTags'), Buffer.from([4, 0, 0, 0]), str('fuzz'), Buffer.alloc(4));
/** An Opus stream's two header pages. */
const opusHeaders = (serial: number) => [
  page({ flags: 2, granule: 0, serial, seq: 0, lacing: lacingOf(19), body: opusHead() }),
  page({ flags: 0, granule: 0, serial, seq: 1, lacing: lacingOf(opusTags().length), body: opusTags() }),
];

/** Streams that begin and end on one empty page each, by the thousand, then one Opus stream. */
function oggManyStreams(size: number): Buffer {
  const empty = page({ flags: 6, granule: -1, serial: 0, seq: 0, lacing: [], body: Buffer.alloc(0) });
  const n = Math.max(1, Math.floor((size - 200) / empty.length));
  const pages: Buffer[] = [];
  for (let i = 0; i < n; i++)
    pages.push(page({ flags: 6, granule: -1, serial: i + 1000, seq: 0, lacing: [], body: Buffer.alloc(0) }));
  pages.push(...opusHeaders(1));
  pages.push(page({ flags: 4, granule: 960 + 312, serial: 1, seq: 2, lacing: [3], body: u8(0xf8, 1, 2) }));
  return Buffer.concat(pages);
}

/** Opus streams multiplexed, each with a packet continued page after page up to 1 MiB, never ended. */
function oggHugePackets(size: number): Buffer {
  const perStream = 1024 * 1024 - 65025; // under the 1 MiB bound
  const streams = Math.max(1, Math.floor(size / perStream));
  const pages: Buffer[] = [];
  for (let s = 0; s < streams; s++) pages.push(...opusHeaders(s + 1));
  const body = Buffer.alloc(255 * 255, 0xf8);
  const lacing = Array(255).fill(255);
  for (let k = 0; k * 65025 < perStream; k++)
    for (let s = 0; s < streams; s++)
      pages.push(page({ flags: k === 0 ? 0 : 1, granule: -1, serial: s + 1, seq: 2 + k, lacing, body }));
  return Buffer.concat(pages);
}

/** Pages of 255 empty packets each. */
function oggEmptyPackets(size: number): Buffer {
  const pages = opusHeaders(1);
  const lacing = Array(255).fill(0);
  const one = page({ flags: 0, granule: -1, serial: 1, seq: 0, lacing, body: Buffer.alloc(0) }).length;
  const n = Math.max(1, Math.floor((size - 200) / one));
  for (let k = 0; k < n; k++)
    pages.push(page({ flags: 0, granule: -1, serial: 1, seq: 2 + k, lacing, body: Buffer.alloc(0) }));
  pages.push(
    page({ flags: 4, granule: 960 + 312, serial: 1, seq: 2 + n, lacing: [3], body: u8(0xf8, 1, 2) }),
  );
  return Buffer.concat(pages);
}

/** Valid Opus pages, one 3-byte packet each: a real (if wasteful) shape, for timing. */
function oggTinyPages(size: number): Buffer {
  const pages = opusHeaders(1);
  const one = 27 + 1 + 3;
  const n = Math.max(1, Math.floor((size - 200) / one));
  for (let k = 0; k < n; k++)
    pages.push(
      page({
        flags: k === n - 1 ? 4 : 0,
        granule: 960 * (k + 1),
        serial: 1,
        seq: 2 + k,
        lacing: [3],
        body: u8(0xf8, 1, 2),
      }),
    );
  return Buffer.concat(pages);
}

// --- FLAC, MP3, ADTS, WAV -----------------------------------------------------------------------

function streamInfo(maxBlock: number, rate: number, channels: number, bps: number): Buffer {
  const b = Buffer.alloc(34);
  b.writeUInt16BE(16, 0);
  b.writeUInt16BE(maxBlock, 2);
  b.writeUIntBE(((rate << 4) | ((channels - 1) << 1) | ((bps - 1) >> 4)) >>> 0, 10, 3);
  b[13] = ((bps - 1) & 0xf) << 4;
  return b;
}

/** A STREAMINFO that allows 2 MB frames, then FF F8 sync codes at every other byte. */
function flacSyncSpam(size: number): Buffer {
  const meta = cat(str('fLaC'), u8(0x80, 0, 0, 34), streamInfo(65535, 44100, 8, 32));
  // Valid headers (8 channels, 4096 samples), the first numbered 0, all others 1: each is a
  // candidate end of frame 0 whose CRC-16 fails.
  const header = (n: number) => {
    const h = Buffer.from([0xff, 0xf8, 0xc0, 0x70, n, 0]);
    h[5] = crc8(h.subarray(0, 5));
    return h;
  };
  const one = header(1);
  const n = Math.max(1, Math.floor((size - meta.length) / one.length));
  return Buffer.concat([meta, header(0), ...Array.from({ length: n }, () => one)]);
}

/** Thousands of empty metadata blocks before the audio. */
function flacManyMetadata(size: number): Buffer {
  const n = Math.max(1, Math.floor((size - 60) / 4));
  const blocks = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) blocks[4 * i] = i === n - 1 ? 0x81 : 0x01;
  return cat(
    str('fLaC'),
    u8(0x00, 0, 0, 34),
    streamInfo(4096, 44100, 1, 16),
    blocks,
    Buffer.from('fff8c90800', 'hex'),
  );
}

/** The smallest MPEG frames (MPEG-2 Layer III, 8 kb/s, 24 kHz: 24 bytes), one after another. */
function mp3TinyFrames(size: number): Buffer {
  const frame = Buffer.alloc(24);
  frame.writeUInt32BE(0xfff314c0, 0); // MPEG-2 Layer III, 8 kb/s, 24 kHz, mono
  const n = Math.max(1, Math.floor(size / 24));
  return Buffer.concat(Array.from({ length: n }, () => frame));
}

/** An ID3v2 tag after every MP3 frame (size 0), as a joined file would have only once. */
function mp3TagAfterEveryFrame(size: number): Buffer {
  const frame = Buffer.alloc(24);
  frame.writeUInt32BE(0xfff314c0, 0); // no CRC
  const tag = Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1');
  const n = Math.max(1, Math.floor(size / 34));
  return Buffer.concat(Array.from({ length: n }, () => cat(frame, tag)).concat(frame));
}

/** An ID3v2 tag of the largest size, then audio. */
function id3Huge(size: number): Buffer {
  return cat(
    Buffer.from('ID3\x04\x00\x10\x7f\x7f\x7f\x7f', 'latin1'),
    Buffer.alloc(Math.max(0, size - 10), 0xff),
  );
}

/** ADTS frames of 7 bytes (a header and nothing else). */
function adtsEmptyFrames(size: number): Buffer {
  const frame = Buffer.from([0xff, 0xf1, 0x50, 0x80, 0x00, 0xff, 0xfc]);
  frame[4] = 7 >> 3;
  frame[5] = ((7 & 7) << 5) | 0x1f;
  const n = Math.max(1, Math.floor(size / 7));
  return Buffer.concat(Array.from({ length: n }, () => frame));
}

function wavHead(blockAlign = 2, channels = 1, bits = 16): Buffer {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(16000, 4);
  fmt.writeUInt32LE(16000 * blockAlign, 8);
  fmt.writeUInt16LE(blockAlign, 12);
  fmt.writeUInt16LE(bits, 14);
  return cat(str('RIFF'), u32(0), str('WAVEfmt '), Buffer.from([16, 0, 0, 0]), fmt);
}

/** Thousands of empty chunks between fmt and data, and after the data. */
function wavManyChunks(size: number): Buffer {
  const n = Math.max(1, Math.floor((size - 2000) / 16));
  const chunk = str('junk\0\0\0\0');
  const many = Buffer.concat(Array.from({ length: n }, () => chunk));
  const data = cat(str('data'), Buffer.from([0xe8, 0x03, 0, 0]), Buffer.alloc(1000, 3));
  return cat(wavHead(), many, data, many);
}

/** A block alignment of 65535 bytes (larger than the PCM check's span). */
function wavHugeBlockAlign(size: number): Buffer {
  const bytes = Math.max(65535, size - 100);
  const data = cat(str('data'), Buffer.alloc(4), Buffer.alloc(bytes, 0x55));
  data.writeUInt32LE(bytes, 4);
  return cat(wavHead(65535, 32767, 16), data);
}

/** Every hostile shape, by name. */
export const BOMBS: Bomb[] = [
  { name: 'mp4-free-boxes', type: 'audio/mp4', build: mp4FreeBoxes },
  { name: 'mp4-empty-mdats', type: 'audio/mp4', build: mp4EmptyMdats },
  { name: 'mp4-trun-empty-samples', type: 'audio/mp4', build: mp4TrunEmptySamples },
  { name: 'mp4-empty-run-after-real', type: 'audio/mp4', build: mp4EmptyRunAfterReal },
  { name: 'mp4-empty-table-samples', type: 'audio/mp4', build: mp4EmptyTableSamples },
  { name: 'mp4-overlapping-chunks', type: 'audio/mp4', build: mp4OverlappingChunks },
  { name: 'mp4-deep-wave', type: 'audio/mp4', build: mp4DeepWave },
  { name: 'mp4-large-sizes', type: 'audio/mp4', build: mp4LargeSizes },
  { name: 'mp4-tiny-samples', type: 'audio/mp4', build: mp4TinySamples },
  { name: 'mp4-many-moofs', type: 'audio/mp4', build: mp4ManyMoofs },
  { name: 'webm-unknown-clusters', type: 'audio/webm', build: webmUnknownClusters },
  { name: 'webm-voids', type: 'audio/webm', build: webmVoids },
  { name: 'webm-many-blocks', type: 'audio/webm', build: webmManyBlocks },
  { name: 'webm-xiph-lacing', type: 'audio/webm', build: webmXiphLacing },
  { name: 'webm-huge-sizes', type: 'audio/webm', build: webmHugeSizes },
  { name: 'webm-big-infos', type: 'audio/webm', build: webmBigInfos },
  { name: 'webm-deep-nesting', type: 'audio/webm', build: webmDeepNesting },
  { name: 'ogg-many-streams', type: 'audio/ogg', build: oggManyStreams },
  { name: 'ogg-huge-packets', type: 'audio/ogg', build: oggHugePackets },
  { name: 'ogg-empty-packets', type: 'audio/ogg', build: oggEmptyPackets },
  { name: 'ogg-tiny-pages', type: 'audio/ogg', build: oggTinyPages },
  { name: 'flac-sync-spam', type: 'audio/flac', build: flacSyncSpam },
  { name: 'flac-many-metadata', type: 'audio/flac', build: flacManyMetadata },
  { name: 'mp3-tiny-frames', type: 'audio/mpeg', build: mp3TinyFrames },
  { name: 'mp3-tag-after-every-frame', type: 'audio/mpeg', build: mp3TagAfterEveryFrame },
  { name: 'id3-huge-mp3', type: 'audio/mpeg', build: id3Huge },
  { name: 'id3-huge-aac', type: 'audio/aac', build: id3Huge },
  { name: 'id3-huge-flac', type: 'audio/flac', build: id3Huge },
  { name: 'adts-empty-frames', type: 'audio/aac', build: adtsEmptyFrames },
  { name: 'wav-many-chunks', type: 'audio/wav', build: wavManyChunks },
  { name: 'wav-huge-block-align', type: 'audio/wav', build: wavHugeBlockAlign },
];
