import type { ByteReader } from './byte-reader.js';
import { opusPacketSamples, parseVorbisIdent } from './codecs.js';
import { crc32ogg } from './crc.js';
import { checkFlacFrame, parseStreamInfo, type StreamInfo } from './flac.js';
import { checkSampleRate, fail } from './invalid-audio.js';
import { isZeros } from './zeros.js';

/**
 * The longest packet kept whole (a FLAC frame can be large; Opus and Vorbis packets are small),
 * and the most the packets in progress on all streams may hold together.
 */
const MAX_PACKET_BYTES = 1024 * 1024;
/** Of a header packet (which may carry pictures in its comments) only this much is kept. */
const HEADER_BYTES = 64;
/**
 * The most logical streams a file may begin: a chained file has a stream or two per link, so
 * this is hundreds of links. Each stream's state is kept to the end (and a scan of them ran
 * per new stream: 38,800 empty one-page streams in 1 MiB took quadratic time).
 */
const MAX_STREAMS = 1024;

interface Stream {
  codec: 'opus' | 'vorbis' | 'flac' | 'other';
  chain: number;
  nextSeq: number;
  packets: number;
  /** Parts of a packet continued on the next page (copies: the reader's views do not last). */
  partial: Buffer[] | null;
  partialBytes: number;
  /** Of those, the bytes counted in the file's total held (audio packets are kept whole). */
  partialHeld: number;
  ended: boolean;
  lastGranule: number | null;
  /** Samples the audio packets hold (Opus: 48 kHz; FLAC: the stream's rate). */
  samples: number;
  audioPackets: number;
  rate: number;
  preSkip: number;
  /** Opus: the granule position where the stream's first sample sits (RFC 7845 §4.7). */
  startGranule: number | null;
  headerPackets: number;
  maxBlock: number;
  flacInfo: StreamInfo | null;
}

/**
 * Ogg (RFC 3533) holding Opus (RFC 7845), Vorbis or FLAC: the length comes from the pages and
 * packets really there. Every page is complete and its CRC-32 checks out, page sequence numbers
 * have no gap, granule positions never go back, and every audio packet is checked as its codec
 * requires (Opus: RFC 6716's framing; Vorbis: an audio packet's type bit; FLAC: header and CRC-16).
 * Rules:
 * - truncated: the last page is cut, or its last packet continues past the end of the file;
 * - truncated: granule positions declare more samples than the Opus packets hold (or than
 *   Vorbis packets could: each yields at most half its long block);
 * - not truncated: a missing end-of-stream flag (a recorder stopped without closing the stream
 *   leaves complete pages; their audio is all there);
 * - corrupt: more than MAX_STREAMS logical streams; an audio packet in progress over 1 MiB, or
 *   packets in progress on all streams together over 1 MiB (the memory bound);
 * - tolerated: zero padding after the last page; chained streams add up, multiplexed ones count
 *   as the longest.
 */
export async function oggSeconds(r: ByteReader): Promise<number> {
  const streams = new Map<number, Stream>();
  // The bytes of audio packets in progress on all streams together: multiplexed streams may not
  // hold more than one packet's bound between them.
  const held = { bytes: 0 };
  let chain = 0;
  let pages = 0;
  let pos = 0;
  while (pos < r.size) {
    const h = await r.read(pos, 27);
    if (h.toString('latin1', 0, 4) !== 'OggS') {
      if (!(pages > 0 && (await isZeros(r, pos, r.size))))
        fail(`unreadable data at byte ${pos} (after ${pages} pages)`);
      break;
    }
    if (h.length !== 27) fail('truncated: the last page is cut');
    if (!(h[4] === 0)) fail(`page at byte ${pos} has an unknown version (corrupt)`);
    const segments = h[26] as number;
    const lacing = Buffer.from(await r.read(pos + 27, segments));
    if (lacing.length !== segments) fail('truncated: the last page is cut');
    const bodyBytes = lacing.reduce((a, b) => a + b, 0);
    const total = 27 + segments + bodyBytes;
    if (!(pos + total <= r.size)) fail(`truncated: the last page is cut (${r.size - pos} of ${total} bytes)`);
    const page = await r.read(pos, total);
    let crc = crc32ogg(page.subarray(0, 22));
    crc = crc32ogg(ZERO4, crc);
    crc = crc32ogg(page.subarray(26), crc);
    if (!(crc === page.readUInt32LE(22))) fail(`page ${pages + 1} at byte ${pos} fails its CRC (corrupt)`);
    const flags = page[5] as number;
    const granuleHigh = page.readUInt32LE(10);
    const granuleLow = page.readUInt32LE(6);
    const granule =
      granuleHigh === 0xffffffff && granuleLow === 0xffffffff ? null : granuleHigh * 2 ** 32 + granuleLow;
    const serial = page.readUInt32LE(14);
    const seq = page.readUInt32LE(18);
    let s = streams.get(serial);
    if (flags & 2) {
      if (s !== undefined) fail(`page at byte ${pos} begins stream ${serial} twice (corrupt)`);
      if (streams.size >= MAX_STREAMS) fail(`more than ${MAX_STREAMS} logical streams (corrupt)`);
      // A stream that begins after every open stream ended is the next link of a chained file.
      const open = [...streams.values()].some((o) => o.chain === chain && !o.ended);
      if (!open && streams.size > 0) chain++;
      s = newStream(chain, seq);
      streams.set(serial, s);
    }
    if (s === undefined) fail(`page at byte ${pos} belongs to no stream begun before it (corrupt)`);
    if (s.ended) fail(`page at byte ${pos} follows the end of its stream (corrupt)`);
    if (seq !== s.nextSeq)
      fail(`pages missing before byte ${pos} (sequence ${s.nextSeq} expected, ${seq} found)`);
    if (!(((flags & 1) === 1) === (s.partial !== null)))
      fail(`page at byte ${pos} does not continue its packet (corrupt)`);
    s.nextSeq = seq + 1;
    let body = 27 + segments;
    let packetStart = body;
    for (let k = 0; k < segments; k++) {
      body += lacing[k] as number;
      if ((lacing[k] as number) === 255 && k < segments - 1) continue;
      const piece = page.subarray(packetStart, body);
      packetStart = body;
      if ((lacing[k] as number) === 255) {
        keepPartial(s, piece, held); // continues on the next page
        break;
      }
      const whole = s.partial ? Buffer.concat([...s.partial, piece]) : piece;
      s.partial = null;
      s.partialBytes = 0;
      held.bytes -= s.partialHeld;
      s.partialHeld = 0;
      packet(s, whole, `packet ${s.packets + 1} of stream ${serial}`);
    }
    if (granule !== null) {
      if (!(s.lastGranule === null || granule >= s.lastGranule))
        fail(`page at byte ${pos} goes back in time (corrupt)`);
      if (s.codec === 'opus' && s.startGranule === null && s.audioPackets > 0)
        s.startGranule = granule - s.samples;
      s.lastGranule = granule;
    }
    if (flags & 4) s.ended = true;
    pages++;
    pos += total;
  }
  const byChain = new Map<number, number>();
  let audio = 0;
  for (const s of streams.values()) {
    if (s.codec === 'other') continue;
    if (s.partial !== null) fail('truncated: the last packet continues past the end of the file');
    if (!(s.audioPackets > 0)) fail(`no audio packets in the ${s.codec} stream`);
    audio++;
    byChain.set(s.chain, Math.max(byChain.get(s.chain) ?? 0, streamSeconds(s)));
  }
  if (!(audio > 0)) fail('no Opus, Vorbis or FLAC stream');
  return [...byChain.values()].reduce((a, b) => a + b, 0);
}

const ZERO4 = new Uint8Array(4);

function newStream(chain: number, seq: number): Stream {
  return {
    codec: 'other',
    chain,
    nextSeq: seq,
    packets: 0,
    partial: null,
    partialBytes: 0,
    partialHeld: 0,
    ended: false,
    lastGranule: null,
    samples: 0,
    audioPackets: 0,
    rate: 0,
    preSkip: 0,
    startGranule: null,
    headerPackets: 0,
    maxBlock: 0,
    flacInfo: null,
  };
}

/** Keeps a packet's piece for the next page: a header's first bytes, an audio packet whole. */
function keepPartial(s: Stream, piece: Buffer, held: { bytes: number }): void {
  const index = s.packets;
  const header = index === 0 || s.codec === 'other' || index <= s.headerPackets;
  const cap = header ? HEADER_BYTES : MAX_PACKET_BYTES;
  const kept = s.partialBytes;
  s.partialBytes += piece.length;
  if (!(header || s.partialBytes <= MAX_PACKET_BYTES)) fail('a packet over 1 MiB (corrupt)');
  if (!header) {
    s.partialHeld += piece.length;
    held.bytes += piece.length;
    if (!(held.bytes <= MAX_PACKET_BYTES)) fail('packets in progress hold over 1 MiB (corrupt)');
  }
  s.partial ??= [];
  if (kept < cap) s.partial.push(Buffer.from(piece.subarray(0, cap - kept)));
}

/** Takes in one whole packet: the first names the codec, then headers, then audio. */
function packet(s: Stream, p: Buffer, where: string): void {
  const index = s.packets++;
  if (index === 0) {
    if (p.length >= 19 && p.toString('latin1', 0, 8) === 'OpusHead') {
      if (!((p[8] as number) < 16 && (p[9] as number) > 0)) fail(`${where}: invalid OpusHead`);
      Object.assign(s, { codec: 'opus', rate: 48000, preSkip: p.readUInt16LE(10), headerPackets: 1 });
    } else if (p.length >= 30 && p.toString('latin1', 0, 7) === '\x01vorbis') {
      const ident = parseVorbisIdent(p);
      if (ident === null) fail(`${where}: invalid Vorbis identification header`);
      checkSampleRate(ident.rate, where);
      Object.assign(s, { codec: 'vorbis', rate: ident.rate, maxBlock: ident.longBlock, headerPackets: 2 });
    } else if (
      p.length >= 51 &&
      p.toString('latin1', 0, 5) === '\x7fFLAC' &&
      p.toString('latin1', 9, 13) === 'fLaC'
    ) {
      const info = parseStreamInfo(p.subarray(17, 51));
      if (info === null) fail(`${where}: invalid STREAMINFO`);
      checkSampleRate(info.sampleRate, where);
      // The mapping header counts the metadata packets after it; 0 means "unknown" (RFC 9639 §10.1).
      Object.assign(s, {
        codec: 'flac',
        rate: info.sampleRate,
        flacInfo: info,
        headerPackets: p.readUInt16BE(7) || -1,
      });
    }
    return;
  }
  // An empty packet holds no audio (ffmpeg ends Ogg FLAC with one).
  if (s.codec === 'other' || p.length === 0) return;
  if (s.codec === 'flac' && s.headerPackets === -1 && !(p[0] === 0xff && ((p[1] as number) & 0xfe) === 0xf8))
    return;
  if (index <= s.headerPackets) {
    if (s.codec === 'opus' && p.toString('latin1', 0, 8) !== 'OpusTags') fail(`${where}: no OpusTags header`);
    if (s.codec === 'vorbis' && !(p[0] === 2 * index + 1 && p.toString('latin1', 1, 7) === 'vorbis')) {
      fail(`${where}: not a Vorbis header`);
    }
    return;
  }
  s.audioPackets++;
  if (s.codec === 'opus') {
    const n = opusPacketSamples(p);
    if (n === null) fail(`${where} is not an Opus packet (corrupt)`);
    s.samples += n;
  } else if (s.codec === 'vorbis') {
    if (!(p.length > 0 && ((p[0] as number) & 1) === 0))
      fail(`${where} is not a Vorbis audio packet (corrupt)`);
  } else if (s.flacInfo) {
    s.samples += checkFlacFrame(p, s.flacInfo, where).blockSize;
  }
}

function streamSeconds(s: Stream): number {
  if (s.codec === 'opus') {
    const start = s.startGranule ?? 0;
    const end = s.lastGranule ?? s.samples + start;
    if (!(end - start <= s.samples))
      fail(`truncated: pages declare ${end - start} samples, the packets hold ${s.samples}`);
    return Math.max(0, end - start - s.preSkip) / 48000;
  }
  if (s.codec === 'vorbis') {
    const end = s.lastGranule ?? 0;
    const most = (s.audioPackets * s.maxBlock) / 2 + s.maxBlock;
    if (end > most)
      fail(`truncated: pages declare ${end} samples, ${s.audioPackets} packets hold at most ${most}`);
    return end / s.rate;
  }
  const info = s.flacInfo as StreamInfo;
  if (!(info.totalSamples === 0 || info.totalSamples <= s.samples))
    fail(`truncated: STREAMINFO declares ${info.totalSamples} samples, ${s.samples} present`);
  return s.samples / s.rate;
}
