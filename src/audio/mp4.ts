import type { ByteReader } from './byte-reader.js';
import {
  type AacConfig,
  aacConfigProblem,
  aacFrameProblem,
  aacUnitMaxSeconds,
  ac3FramesSeconds,
  mpegFramesSeconds,
  opusPacketSamples,
  parseAudioSpecificConfig,
} from './codecs.js';
import { checkFlacFrame, parseStreamInfo, type StreamInfo } from './flac.js';
import { checkSampleRate, fail } from './invalid-audio.js';
import { isZeros } from './zeros.js';

/**
 * The longest moov or moof read whole, a bound on memory: a 10 MiB AAC file of 40 minutes has a moov
 * of about 0.5 MiB.
 */
const MAX_BOX_BYTES = 2 * 1024 * 1024;

/**
 * The most boxes the top level may hold. A fragmented recording has two per fragment, and
 * Chromium's MediaRecorder starts a new fragment at most 10 times a second: this allows 1.8
 * hours of fragments at that rate. It bounds the walk and the positions kept (10 MiB of 8-byte
 * free boxes kept 140 MiB of objects before).
 */
const MAX_TOP_BOXES = 131072;

/** Boxes of a box body held in memory (ISO 14496-12 §4.2), each checked to fit. */
function* boxes(b: Buffer, what: string): Generator<[string, Buffer]> {
  let i = 0;
  while (i + 8 <= b.length) {
    let size = b.readUInt32BE(i);
    const type = b.toString('latin1', i + 4, i + 8);
    let header = 8;
    if (size === 1) {
      if (!(i + 16 <= b.length)) fail(`corrupt ${what}`);
      size = Number(b.readBigUInt64BE(i + 8));
      header = 16;
    } else if (size === 0) size = b.length - i;
    if (!(size >= header && i + size <= b.length)) fail(`corrupt ${what}: ${type} box overruns it`);
    yield [type, b.subarray(i + header, i + size)];
    i += size;
  }
}

function child(b: Buffer, type: string, what: string): Buffer | null {
  for (const [t, body] of boxes(b, what)) if (t === type) return body;
  return null;
}

/** How a track's samples are to be checked. */
type Payload =
  | { kind: 'aac'; config: AacConfig }
  | { kind: 'opus' }
  | { kind: 'mp3' }
  /** Apple Lossless: a sample (one frame) holds at most frameLength samples at the rate. */
  | { kind: 'alac'; frameSeconds: number }
  /** PCM: a sample lasts its bytes at this many seconds a byte. */
  | { kind: 'pcm'; secondsPerByte: number }
  /** FLAC (the ISO BMFF mapping's dfLa): a sample is one frame, checked by its CRC, lasting its block size. */
  | { kind: 'flac'; info: StreamInfo }
  /** AC-3 or E-AC-3 (ETSI TS 102 366 Annex F): a sample is whole sync frames, lasting their blocks. */
  | { kind: 'ac3' }
  | { kind: 'none' };

interface Trak {
  id: number;
  timescale: number;
  payload: Payload;
  stbl: Buffer;
  /** The one edit that maps media into the presentation, if any: [duration (movie timescale), media time]. */
  edit: [number, number] | null;
  /** Fragments: trex defaults. */
  defaultDuration: number;
  defaultSize: number;
}

/**
 * MP4 / M4A (ISO 14496-12 and -14; QuickTime's moov is the same): the length is the sample
 * durations of the (first) sound track's samples that are really in the file, trimmed by its
 * edit list as players trim it; fragmented files (moof, as Chromium's and Safari's MediaRecorder
 * write) add up their fragments. Every sample must lie inside an mdat box within the file, and
 * each is checked as its codec requires (AAC syntax, Opus framing, MPEG header, a FLAC frame's
 * CRC, whole AC-3 sync frames; an ALAC frame is held to its config's frame length, PCM to its bytes). Rules:
 * - truncated: a box that declares more bytes than the file holds; the sample table pointing
 *   past the end of the file (an mdat cut short); no moov (a file cut before its moov, which
 *   many writers put last);
 * - corrupt: sample tables that disagree (counts), a sample outside every mdat, samples whose
 *   sizes add up to more than the mdats hold (they overlap), a frame its codec would refuse,
 *   bytes that are no box, more than MAX_TOP_BOXES top-level boxes, wave boxes nested deeper
 *   than MAX_WAVE_DEPTH; tolerated: zero padding after the last box.
 */
export async function mp4Seconds(r: ByteReader): Promise<number> {
  // Kept flat, a few numbers a box: mdats as [body, end] pairs, moofs as [start, body, end].
  const mdats: number[] = [];
  const moofs: number[] = [];
  let moovBox: { type: string; body: number; end: number } | undefined;
  let pos = 0;
  for (let count = 1; pos + 8 <= r.size; count++) {
    if (count > MAX_TOP_BOXES) fail(`more than ${MAX_TOP_BOXES} boxes at the top level (corrupt)`);
    const h = await r.read(pos, 16);
    let size = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    if (size === 0 && type === '\0\0\0\0') {
      if (!(await isZeros(r, pos, r.size))) fail(`unreadable data at byte ${pos}`);
      break;
    }
    if (!/^[\x20-\x7e]{4}$/.test(type)) fail(`unreadable data at byte ${pos}`);
    let header = 8;
    if (size === 1) {
      if (h.length !== 16) fail('truncated: the last box is cut');
      size = Number(h.readBigUInt64BE(8));
      header = 16;
    } else if (size === 0) size = r.size - pos;
    if (!(size >= header)) fail(`box at byte ${pos} has an invalid size (corrupt)`);
    const end = pos + size;
    // A cut mdat is reported by the samples it misses (more telling); any other box is cut here.
    if (!(type === 'mdat' || end <= r.size))
      fail(`truncated: ${type} box declares ${size} bytes, ${r.size - pos} present`);
    if (type === 'mdat') mdats.push(pos + header, Math.min(end, r.size));
    else if (type === 'moof') moofs.push(pos, pos + header, end);
    else if (type === 'moov') moovBox ??= { type, body: pos + header, end };
    pos = end;
  }
  if (!(pos >= r.size || (await isZeros(r, pos, r.size)))) fail(`truncated: the last box is cut`);
  if (moovBox === undefined) fail('truncated or incomplete: no moov box');
  const moov = await wholeBox(r, moovBox);
  const mvhd = child(moov, 'mvhd', 'moov');
  if (mvhd === null) fail('no mvhd box');
  const movieTimescale = mvhd.readUInt32BE(mvhd[0] === 1 ? 20 : 12);
  const trak = soundTrak(moov, movieTimescale);
  if (trak === null) fail('no sound track');

  // The mdats are in file order and disjoint: the only one that can hold a sample is the last
  // that starts at or before it (a scan of every mdat per sample was quadratic).
  const inMdat = (offset: number, size: number): boolean => {
    let lo = 0;
    let hi = mdats.length / 2 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((mdats[2 * mid] as number) <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && offset + size <= (mdats[2 * found + 1] as number);
  };
  let sampleIndex = 0;
  let sampleBytes = 0;
  let mdatBytes = 0;
  for (let k = 0; k < mdats.length; k += 2) mdatBytes += (mdats[k + 1] as number) - (mdats[k] as number);
  let ticks = 0;
  // What the checked frames can last by their own bytes (an Opus packet and an MPEG frame say; an
  // AAC unit lasts at most its frame length): the sample table's durations may claim more.
  const aacUnit = trak.payload.kind === 'aac' ? aacUnitMaxSeconds(trak.payload.config) : 0;
  let framesSeconds = 0;
  // The sample is data[s, e): indices, not a view, since this runs once per sample.
  const checkData = (data: Buffer, s: number, e: number, n: number, offset: number): void => {
    if (trak.payload.kind === 'aac') {
      const problem = aacFrameProblem(data, trak.payload.config, s, e);
      if (problem !== null) fail(`sample ${n + 1} at byte ${offset}: ${problem} (corrupt)`);
      framesSeconds += aacUnit;
    } else if (trak.payload.kind === 'opus') {
      const samples = opusPacketSamples(data, s, e);
      if (samples === null) fail(`sample ${n + 1} at byte ${offset} is not an Opus packet (corrupt)`);
      framesSeconds += samples / 48000;
    } else if (trak.payload.kind === 'flac') {
      const frame = checkFlacFrame(
        data.subarray(s, e),
        trak.payload.info,
        `sample ${n + 1} at byte ${offset}`,
      );
      framesSeconds += frame.blockSize / trak.payload.info.sampleRate;
    } else if (trak.payload.kind === 'ac3') {
      const lasts = ac3FramesSeconds(data, s, e);
      if (lasts === null) fail(`sample ${n + 1} at byte ${offset} is not whole AC-3 frames (corrupt)`);
      framesSeconds += lasts;
    } else {
      const lasts = mpegFramesSeconds(data, s, e);
      if (lasts === null) fail(`sample ${n + 1} at byte ${offset} is not an MPEG audio frame (corrupt)`);
      framesSeconds += lasts;
    }
  };
  // Sync when the window holds the sample (the hot path), a promise only when it must be read.
  const sample: SampleCheck = (offset, size, total, copies = 1) => {
    const n = sampleIndex;
    sampleIndex += copies;
    if (offset + size > r.size) {
      fail(`truncated: sample ${n + 1} of ${total} lies past the end of the file (byte ${offset})`);
    }
    if (!inMdat(offset, size)) fail(`sample ${n + 1} at byte ${offset} is outside the media data (corrupt)`);
    // One track's samples are disjoint pieces of the mdats, so their sizes add up to at most the
    // mdats' bytes; more means samples overlap (chunks at one offset made 2^32 one-byte samples
    // of a 1 KiB mdat). This also bounds the samples walked by the file's size.
    sampleBytes += size;
    if (sampleBytes > mdatBytes)
      fail(
        `sample ${n + 1} at byte ${offset}: the samples add up to more bytes than the media data holds (corrupt)`,
      );
    // An ALAC frame has no framing this reader checks, but its config bounds what it can last.
    if (trak.payload.kind === 'alac' && size > 0) framesSeconds += trak.payload.frameSeconds;
    // PCM has no framing to check: its bytes say how long it lasts.
    if (trak.payload.kind === 'pcm') framesSeconds += size * trak.payload.secondsPerByte;
    // Not read, but walked: a file of millions of such samples still gives the event loop its turns.
    const unread =
      trak.payload.kind === 'none' || trak.payload.kind === 'alac' || trak.payload.kind === 'pcm';
    if (unread || size === 0) return r.skip(size);
    const at = r.span(offset, size);
    if (at >= 0) {
      checkData(r.buffer, at, at + size, n, offset);
      return undefined;
    }
    return r.read(offset, size).then((fresh) => checkData(fresh, 0, fresh.length, n, offset));
  };

  ticks += await sampleTable(trak, sample);
  for (let k = 0; k < moofs.length; k += 3) {
    const start = moofs[k] as number;
    const moof = await wholeBox(r, {
      type: 'moof',
      body: moofs[k + 1] as number,
      end: moofs[k + 2] as number,
    });
    for (const [type, traf] of boxes(moof, 'moof'))
      if (type === 'traf') ticks += await fragment(traf, start, trak, sample);
  }
  if (!(sampleIndex > 0)) fail('no audio samples');
  // Empty samples carry no audio: a file of nothing else has no length, whatever its tables claim.
  if (sampleBytes === 0) fail('no audio data (every sample is empty)');
  let seconds = ticks / trak.timescale;
  if (trak.edit) {
    const [editDuration, mediaTime] = trak.edit;
    seconds = Math.max(0, seconds - mediaTime / trak.timescale);
    if (editDuration > 0) seconds = Math.min(seconds, editDuration / movieTimescale);
  }
  // A sample's stated duration is a claim (one 20 ms frame stated as an hour): no longer than
  // its frames can last. A codec that is not checked has nothing to hold it to.
  return trak.payload.kind === 'none' ? seconds : Math.min(seconds, framesSeconds);
}

async function wholeBox(r: ByteReader, box: { type: string; body: number; end: number }): Promise<Buffer> {
  if (!(box.end - box.body <= MAX_BOX_BYTES)) fail(`${box.type} box too large`);
  return r.copy(box.body, box.end - box.body);
}

/** The first trak whose handler is 'soun', with what is needed to walk its samples. */
function soundTrak(moov: Buffer, movieTimescale: number): Trak | null {
  const trex = new Map<number, [number, number]>();
  const mvex = child(moov, 'mvex', 'moov');
  if (mvex)
    for (const [t, b] of boxes(mvex, 'mvex'))
      if (t === 'trex' && b.length >= 24)
        trex.set(b.readUInt32BE(4), [b.readUInt32BE(12), b.readUInt32BE(16)]);
  for (const [type, trak] of boxes(moov, 'moov')) {
    if (type !== 'trak') continue;
    const tkhd = child(trak, 'tkhd', 'trak');
    const mdia = child(trak, 'mdia', 'trak');
    const hdlr = mdia && child(mdia, 'hdlr', 'mdia');
    if (!tkhd || !mdia || !hdlr || hdlr.toString('latin1', 8, 12) !== 'soun') continue;
    const mdhd = child(mdia, 'mdhd', 'mdia');
    const stbl = child(child(mdia, 'minf', 'mdia') ?? Buffer.alloc(0), 'stbl', 'minf');
    if (!(mdhd !== null && stbl !== null)) fail('sound track without its media header or sample table');
    const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
    if (!(timescale > 0)) fail('sound track with a zero timescale');
    const id = tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
    const [defaultDuration, defaultSize] = trex.get(id) ?? [0, 0];
    return {
      id,
      timescale,
      payload: payload(stbl),
      stbl,
      edit: edit(trak, movieTimescale),
      defaultDuration,
      defaultSize,
    };
  }
  return null;
}

/** The edit list's single media edit (elst; ISO 14496-12 §8.6.6); empty edits (delays) are ignored. */
function edit(trak: Buffer, _movieTimescale: number): [number, number] | null {
  const elst = child(child(trak, 'edts', 'trak') ?? Buffer.alloc(0), 'elst', 'edts');
  if (!elst) return null;
  const v1 = elst[0] === 1;
  const count = elst.readUInt32BE(4);
  const media: [number, number][] = [];
  for (let k = 0, i = 8; k < count && i + (v1 ? 20 : 12) <= elst.length; k++, i += v1 ? 20 : 12) {
    const duration = v1 ? Number(elst.readBigUInt64BE(i)) : elst.readUInt32BE(i);
    const time = v1 ? Number(elst.readBigInt64BE(i + 8)) : elst.readInt32BE(i + 4);
    if (time >= 0) media.push([duration, time]);
  }
  return media.length === 1 ? (media[0] as [number, number]) : null;
}

/** How the track's codec lets its samples be checked (stsd's first entry). */
function payload(stbl: Buffer): Payload {
  const stsd = child(stbl, 'stsd', 'stbl');
  if (!stsd || stsd.length < 16) return { kind: 'none' };
  const entry = [...boxes(stsd.subarray(8), 'stsd')][0];
  if (!entry) return { kind: 'none' };
  const [format, body] = entry;
  if (format === 'Opus') return { kind: 'opus' };
  if (format === '.mp3') return { kind: 'mp3' };
  // AC-3 and E-AC-3 frames state their own rate and blocks: their dac3/dec3 box is not needed.
  if (format === 'ac-3' || format === 'ec-3') return { kind: 'ac3' };
  if (format === 'fLaC') return flacPayload(body.length > 28 ? findBox(body.subarray(28), 'dfLa') : null);
  if (!((format === 'mp4a' || format === 'alac' || PCM_BITS.has(format)) && body.length >= 28))
    return { kind: 'none' };
  if (PCM_BITS.has(format)) return pcmPayload(format, body);
  // QuickTime sound description versions 1 and 2 are 16 and 36 bytes longer than version 0.
  const version = body.readUInt16BE(8);
  const skip = 28 + (version === 1 ? 16 : version === 2 ? 36 : 0);
  if (format === 'alac') return alacPayload(body.length > skip ? findBox(body.subarray(skip), 'alac') : null);
  // An mp4a entry says what it holds only in its esds: without one it cannot be decoded.
  const esds = body.length > skip ? findBox(body.subarray(skip), 'esds') : null;
  if (!esds) fail('the AAC track has no valid AudioSpecificConfig (corrupt)');
  return esdsPayload(esds.subarray(4));
}

/**
 * QuickTime's and ISO 23003-5's PCM sample entries, with the bits a sample their format implies
 * (0: the entry's sample size says; QuickTime v0 entries state 16 whatever the format).
 */
const PCM_BITS = new Map([
  ['sowt', 0],
  ['twos', 0],
  ['raw ', 8],
  ['in24', 24],
  ['in32', 32],
  ['fl32', 32],
  ['fl64', 64],
  ['lpcm', 0],
  ['ipcm', 0],
  ['fpcm', 0],
]);

/**
 * A PCM track's bytes a second, from its sound sample entry: version 0 and 1 (channels, sample
 * size, 16.16 rate; v1's bytes a frame), version 2 (QuickTime's lpcm: a float64 rate, channels,
 * bits a channel) and ISO 23003-5's pcmC box. A PCM track whose layout cannot be known cannot be
 * played, and its samples' length could not be held to their bytes: refused.
 */
function pcmPayload(format: string, body: Buffer): Payload {
  const version = body.readUInt16BE(8);
  let channels = body.readUInt16BE(16);
  let bits = PCM_BITS.get(format) || body.readUInt16BE(18);
  let rate = body.readUInt32BE(24) / 65536;
  let frameBytes = 0;
  // ipcm and fpcm are ISO's (14496-12 AudioSampleEntryV1 has no QuickTime fields after the 28
  // bytes): a rate that does not fit 16.16 goes in an `srat` box, the sample size in `pcmC`.
  const iso = format === 'ipcm' || format === 'fpcm';
  if (iso) {
    const srat = findBox(body.subarray(28), 'srat');
    if (srat && srat.length >= 8) rate = srat.readUInt32BE(4);
  } else if (version === 1 && body.length >= 44) frameBytes = body.readUInt32BE(36);
  else if (version === 2 && body.length >= 64) {
    rate = body.readDoubleBE(32);
    channels = body.readUInt32BE(40);
    bits = body.readUInt32BE(48);
    const packetBytes = body.readUInt32BE(56);
    const packetFrames = body.readUInt32BE(60);
    if (packetFrames > 0) frameBytes = packetBytes / packetFrames;
  }
  const pcmC = iso ? findBox(body.subarray(28), 'pcmC') : null;
  if (pcmC && pcmC.length >= 6) bits = pcmC[5] as number;
  // What channels and sample size need is the least a frame can take: a v1 bytesPerFrame or a v2
  // packet of fewer bytes (1 byte for 2^32 frames) would make a few bytes last hours.
  const least = channels * Math.ceil(bits / 8);
  frameBytes = Math.max(frameBytes, least);
  if (!(frameBytes > 0 && Number.isFinite(rate) && rate > 0))
    fail('the PCM track states no channels or sample size (corrupt)');
  checkSampleRate(rate, 'the PCM track');
  return { kind: 'pcm', secondsPerByte: 1 / (frameBytes * rate) };
}

/**
 * The most samples an ALAC frame may hold: Apple's encoder writes 4096 (kALACDefaultFramesPerPacket)
 * and ffmpeg's too; four times that leaves room for other encoders.
 */
const MAX_ALAC_FRAME_LENGTH = 16384;

/**
 * The ALACSpecificConfig (Apple's ALAC magic cookie, in an `alac` box inside the sample entry):
 * frameLength samples a frame at most, at sampleRate. Without it the track cannot be decoded.
 */
function alacPayload(config: Buffer | null): Payload {
  const frameLength = config && config.length >= 28 ? config.readUInt32BE(4) : 0;
  const rate = config && config.length >= 28 ? config.readUInt32BE(24) : 0;
  // A frame length of 2^32 would let one byte of a sample claim days.
  if (!(frameLength > 0 && frameLength <= MAX_ALAC_FRAME_LENGTH && rate > 0))
    fail('the ALAC track has no valid ALACSpecificConfig (corrupt)');
  checkSampleRate(rate, 'the ALAC track');
  return { kind: 'alac', frameSeconds: frameLength / rate };
}

/**
 * The dfLa box of a FLAC sample entry (the FLAC-in-ISOBMFF mapping, §3.3.2): a full box's 4 bytes,
 * then FLAC's metadata blocks, STREAMINFO first. Without it no frame can be checked: refused.
 */
function flacPayload(dfLa: Buffer | null): Payload {
  const ok = dfLa !== null && dfLa.length >= 8 + 34 && ((dfLa[4] as number) & 0x7f) === 0;
  const info = ok ? parseStreamInfo(dfLa.subarray(8)) : null;
  if (info === null) fail('the FLAC track has no valid STREAMINFO (corrupt)');
  checkSampleRate(info.sampleRate, 'the FLAC track');
  return { kind: 'flac', info };
}

/**
 * QuickTime puts the esds in a `wave` box inside the sample entry, one level deep; wave boxes
 * nested deeper are no writer's (260,000 of them in a moov overflowed the stack).
 */
const MAX_WAVE_DEPTH = 4;

function findBox(b: Buffer, type: string, depth = 0): Buffer | null {
  for (const [t, body] of boxes(b, 'sample entry')) {
    if (t === type) return body;
    if (t === 'wave') {
      if (depth >= MAX_WAVE_DEPTH) fail('sample entry nested too deep (corrupt)');
      const inner = findBox(body, type, depth + 1);
      if (inner) return inner;
    }
  }
  return null;
}

/** ES_Descriptor → DecoderConfigDescriptor → DecoderSpecificInfo (ISO 14496-1 §7.2.6). */
function esdsPayload(b: Buffer): Payload {
  let i = 0;
  const descriptor = (tag: number): number | null => {
    if (b[i] !== tag) return null;
    i++;
    let size = 0;
    for (let k = 0; k < 4; k++) {
      const v = b[i++] ?? 0;
      size = size * 128 + (v & 0x7f);
      if (!(v & 0x80)) break;
    }
    return size;
  };
  const noConfig: () => never = () => fail('the AAC track has no valid AudioSpecificConfig (corrupt)');
  if (descriptor(3) === null) noConfig();
  const flags = b[i + 2] ?? 0;
  i += 3 + (flags & 0x80 ? 2 : 0) + (flags & 0x40 ? (b[i + 3] ?? 0) + 1 : 0) + (flags & 0x20 ? 2 : 0);
  if (descriptor(4) === null) noConfig();
  const objectType = b[i] ?? 0;
  if (objectType === 0x69 || objectType === 0x6b) return { kind: 'mp3' };
  // MPEG-4 audio (0x40) and MPEG-2 AAC Main, LC and SSR (0x66–0x68), which carry the same
  // AudioSpecificConfig; other object types (AC-3, DTS by their registered codes) are not read.
  if (!(objectType === 0x40 || (objectType >= 0x66 && objectType <= 0x68))) return { kind: 'none' };
  i += 13;
  const size = descriptor(5);
  // AAC that cannot say how it is coded cannot be decoded (nor held to its frames).
  const config = size === null ? null : parseAudioSpecificConfig(b.subarray(i, i + size));
  if (config === null) noConfig();
  const problem = aacConfigProblem(config);
  if (problem !== null) fail(problem);
  checkSampleRate(config.sampleRate, 'the AAC track');
  return { kind: 'aac', config };
}

/**
 * Checks one sample (or `copies` identical empty ones at one offset); a promise only when its
 * bytes had to be read.
 */
type SampleCheck = (
  offset: number,
  size: number,
  total: number,
  copies?: number,
) => Promise<void> | undefined;

/** Walks the moov sample table (stts, stsz, stsc, stco/co64); returns the ticks it lasts. */
async function sampleTable(trak: Trak, sample: SampleCheck): Promise<number> {
  const { stbl } = trak;
  const stsz = child(stbl, 'stsz', 'stbl');
  const stts = child(stbl, 'stts', 'stbl');
  const stsc = child(stbl, 'stsc', 'stbl');
  const co64 = child(stbl, 'co64', 'stbl');
  const stco = co64 ?? child(stbl, 'stco', 'stbl');
  if (!(stsz !== null && stts !== null && stsc !== null && stco !== null)) fail('incomplete sample table');
  const fixed = stsz.readUInt32BE(4);
  const count = stsz.readUInt32BE(8);
  if (!(fixed !== 0 || stsz.length >= 12 + 4 * count)) fail('corrupt sample table (stsz)');
  let ticks = 0;
  let timed = 0;
  const sttsCount = stts.readUInt32BE(4);
  if (!(stts.length >= 8 + 8 * sttsCount)) fail('corrupt sample table (stts)');
  for (let k = 0; k < sttsCount; k++) {
    const n = stts.readUInt32BE(8 + 8 * k);
    timed += n;
    ticks += n * stts.readUInt32BE(12 + 8 * k);
  }
  if (timed !== count) fail(`sample tables disagree: ${count} samples sized, ${timed} timed (corrupt)`);
  const chunks = stco.readUInt32BE(4);
  const width = co64 ? 8 : 4;
  if (!(stco.length >= 8 + width * chunks)) fail('corrupt sample table (chunk offsets)');
  const entries = stsc.readUInt32BE(4);
  if (!(stsc.length >= 8 + 12 * entries)) fail('corrupt sample table (stsc)');
  // Each sample's duration in walking order (stts runs; `timed === count` holds): an empty
  // sample carries no audio, so its duration is taken off the length.
  let run = 0;
  let leftInRun = sttsCount > 0 ? stts.readUInt32BE(8) : 0;
  const nextDuration = (): number => {
    while (leftInRun === 0 && run + 1 < sttsCount) {
      run++;
      leftInRun = stts.readUInt32BE(8 + 8 * run);
    }
    leftInRun--;
    return stts.readUInt32BE(12 + 8 * run);
  };
  let index = 0;
  for (let e = 0; e < entries; e++) {
    const firstChunk = stsc.readUInt32BE(8 + 12 * e);
    const perChunk = stsc.readUInt32BE(12 + 12 * e);
    const nextFirst = e + 1 < entries ? stsc.readUInt32BE(20 + 12 * e) : chunks + 1;
    if (!(firstChunk >= 1 && nextFirst > firstChunk && nextFirst <= chunks + 1))
      fail('corrupt sample table (stsc)');
    for (let c = firstChunk; c < nextFirst; c++) {
      let offset = co64 ? Number(stco.readBigUInt64BE(8 + 8 * (c - 1))) : stco.readUInt32BE(8 + 4 * (c - 1));
      for (let s = 0; s < perChunk; s++) {
        if (!(index < count))
          fail(`sample tables disagree: chunks hold more than ${count} samples (corrupt)`);
        const size = fixed || stsz.readUInt32BE(12 + 4 * index);
        if (!fixed) {
          const duration = nextDuration();
          if (size === 0) ticks -= duration;
        }
        const pending = sample(offset, size, count);
        if (pending) await pending;
        offset += size;
        index++;
      }
    }
  }
  if (index !== count) fail(`sample tables disagree: ${count} samples sized, ${index} in chunks (corrupt)`);
  return ticks;
}

/** Walks one track fragment (traf: tfhd, trun; ISO 14496-12 §8.8); returns the ticks it lasts. */
async function fragment(traf: Buffer, moofStart: number, trak: Trak, sample: SampleCheck): Promise<number> {
  const tfhd = child(traf, 'tfhd', 'traf');
  if (!(tfhd !== null && tfhd.length >= 8)) fail('track fragment without tfhd (corrupt)');
  if (tfhd.readUInt32BE(4) !== trak.id) return 0;
  const flags = tfhd.readUIntBE(1, 3);
  let i = 8;
  let base = moofStart;
  if (flags & 0x1) {
    base = Number(tfhd.readBigUInt64BE(i));
    i += 8;
  }
  if (flags & 0x2) i += 4;
  let defaultDuration = trak.defaultDuration;
  let defaultSize = trak.defaultSize;
  if (flags & 0x8) {
    defaultDuration = tfhd.readUInt32BE(i);
    i += 4;
  }
  if (flags & 0x10) defaultSize = tfhd.readUInt32BE(i);
  let ticks = 0;
  let next = base;
  for (const [type, trun] of boxes(traf, 'traf')) {
    if (type !== 'trun') continue;
    const tf = trun.readUIntBE(1, 3);
    const count = trun.readUInt32BE(4);
    let j = 8;
    let offset = next;
    if (tf & 0x1) {
      offset = base + trun.readInt32BE(j);
      j += 4;
    }
    if (tf & 0x4) j += 4;
    const per = (tf & 0x100 ? 4 : 0) + (tf & 0x200 ? 4 : 0) + (tf & 0x400 ? 4 : 0) + (tf & 0x800 ? 4 : 0);
    if (!(trun.length >= j + per * count)) fail('corrupt track run (trun)');
    if (per === 0 && defaultSize === 0) {
      // Without per-sample fields every sample is the same empty one at one offset, and a run of
      // 12 bytes may declare 2^32 - 1 of them: checked once, counted `count` times.
      // They carry no audio, so their durations add nothing to the length.
      if (count > 0) {
        const pending = sample(offset, 0, count, count);
        if (pending) await pending;
      }
      next = offset;
      continue;
    }
    for (let k = 0; k < count; k++) {
      let duration = defaultDuration;
      let size = defaultSize;
      if (tf & 0x100) {
        duration = trun.readUInt32BE(j);
        j += 4;
      }
      if (tf & 0x200) {
        size = trun.readUInt32BE(j);
        j += 4;
      }
      j += (tf & 0x400 ? 4 : 0) + (tf & 0x800 ? 4 : 0);
      const pending = sample(offset, size, count);
      if (pending) await pending;
      offset += size;
      ticks += duration;
    }
    next = offset;
  }
  return ticks;
}
