import type { ByteReader } from './byte-reader.js';
import {
  AAC_RATES,
  type AacConfig,
  aacConfigProblem,
  aacFrameProblem,
  aacUnitMaxSeconds,
  ac3FramesSeconds,
  dtsFramesSeconds,
  mpegFramesSeconds,
  opusPacketSamples,
  parseAudioSpecificConfig,
  parseVorbisIdent,
  truehdUnitsSeconds,
} from './codecs.js';
import { checkFlacFrame, parseStreamInfo, type StreamInfo } from './flac.js';
import { checkSampleRate, fail } from './invalid-audio.js';
import { isZeros } from './zeros.js';

// Element IDs (Matroska, RFC 9559 §5.1), written with their length marker bits as stored.
const EBML = 0x1a45dfa3;
const DOC_TYPE = 0x4282;
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const TIMESTAMP_SCALE = 0x2ad7b1;
const DURATION = 0x4489;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_NUMBER = 0xd7;
const TRACK_TYPE = 0x83;
const CODEC_ID = 0x86;
const CODEC_PRIVATE = 0x63a2;
const DEFAULT_DURATION = 0x23e383;
const CLUSTER = 0x1f43b675;
const CLUSTER_TIMESTAMP = 0xe7;
const SIMPLE_BLOCK = 0xa3;
const BLOCK_GROUP = 0xa0;
const BLOCK = 0xa1;
const BLOCK_DURATION = 0x9b;
const AUDIO = 0xe1;
const SAMPLING_FREQUENCY = 0xb5;
const CHANNELS = 0x9f;
const BIT_DEPTH = 0x6264;
/** Elements that may follow a cluster of unknown size at segment level, so they end it. */
const SEGMENT_LEVEL = new Set([
  0x114d9b74,
  INFO,
  TRACKS,
  CLUSTER,
  0x1c53bb6b,
  0x1941a469,
  0x1043a770,
  0x1254c367,
]);
/** The longest master element read whole (Info, Tracks, a block group, a block). */
const MAX_ELEMENT_BYTES = 1024 * 1024;
/** How far past the blocks a declared Duration may reach: writers store the last timestamp or the end. */
const DURATION_SLACK_SECONDS = 0.25;

interface Head {
  id: number;
  /** null: unknown size (all value bits set), allowed for Segment and Cluster. */
  size: number | null;
  data: number;
}

/** An EBML variable-size integer at b[i] (RFC 8794 §4). */
function vint(
  b: Uint8Array,
  i: number,
  asId: boolean,
): { value: number; length: number; unknown: boolean } | null {
  const first = b[i];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23;
  if (length > (asId ? 4 : 8) || i + length > b.length) return null;
  let value = asId ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let k = 1; k < length; k++) {
    const byte = b[i + k] as number;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value, length, unknown: !asId && allOnes };
}

/** The element header at b[i], or null when it is not one. */
function head(b: Uint8Array, i: number, base = 0): Head | null {
  const id = vint(b, i, true);
  if (!id) return null;
  const size = vint(b, i + id.length, false);
  if (!size) return null;
  return { id: id.value, size: size.unknown ? null : size.value, data: base + i + id.length + size.length };
}

/** The children of a master element held in memory, each checked to fit inside it. */
function* children(b: Buffer, what: string): Generator<[number, Buffer]> {
  let i = 0;
  while (i < b.length) {
    const h = head(b, i);
    if (!(h !== null && h.size !== null && h.data + h.size <= b.length)) fail(`corrupt ${what}`);
    yield [h.id, b.subarray(h.data, h.data + h.size)];
    i = h.data + h.size;
  }
}

function uint(b: Buffer): number {
  return b.length === 0 ? 0 : b.readUIntBE(0, Math.min(b.length, 6));
}

interface Track {
  number: number;
  codec: string;
  aac: AacConfig | null;
  /** Vorbis: the most one packet can last (half its long block), from the identification header. */
  vorbisPacketSeconds: number | null;
  /** FLAC: the STREAMINFO of the CodecPrivate, which each block's frame is checked against. */
  flac: StreamInfo | null;
  /** PCM: bytes of one sample of all channels, and the rate (a block lasts its bytes over these). */
  pcm: { frameBytes: number; rate: number } | null;
  /** TrueHD: what one access unit lasts by the last major sync read; null before the first. */
  truehdUnitSeconds: number | null;
  defaultDurationNs: number;
}

/**
 * WebM / Matroska: the length runs from the first block of the (first) audio track to the end
 * of its last one, block timestamps plus each block's duration (its BlockDuration, else the
 * Opus packets' own frame durations, else the track's DefaultDuration). Chromium's
 * MediaRecorder writes no Duration at all with a timeslice and clusters of unknown size: none of
 * that is needed. Every element must fit in its parent, and every audio frame is checked as its
 * codec requires (Opus framing, AAC syntax, MPEG, AC-3, DTS and TrueHD headers, FLAC frame CRCs). Rules:
 * - truncated: an element (the Segment, a Cluster, a block) declares more bytes than the file
 *   holds;
 * - truncated: the Info Duration reaches more than 0.25 s past the last block's end;
 * - corrupt: an element that does not fit its parent, bytes that are no element, a frame its
 *   codec would refuse; tolerated: zero padding after the Segment.
 */
export async function matroskaSeconds(r: ByteReader): Promise<number> {
  const top = head(await r.read(0, 12), 0);
  if (!(top !== null && top.id === EBML && top.size !== null && top.size < 4096)) fail('no EBML header');
  const ebml = Buffer.from(await r.read(top.data, top.size));
  if (ebml.length !== top.size) fail('truncated: EBML header cut short');
  for (const [id, v] of children(ebml, 'EBML header')) {
    if (id === DOC_TYPE)
      if (!['webm', 'matroska'].includes(v.toString('latin1').replace(/\0+$/, '')))
        fail('not a WebM or Matroska file');
  }
  const seg = head(await r.read(top.data + top.size, 12), 0, top.data + top.size);
  if (!(seg !== null && seg.id === SEGMENT)) fail('no Segment after the EBML header');
  const segEnd = seg.size === null ? r.size : seg.data + seg.size;
  if (segEnd > r.size)
    fail(`truncated: the Segment declares ${seg.size} bytes, ${r.size - seg.data} present`);

  let scaleNs = 1e6;
  let declared: number | null = null;
  let track: Track | null = null;
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY; // not 0: blocks may lie before time zero (a signed timecode)
  let blocks = 0;
  // What the frames can last by their own bytes: timestamps and BlockDurations are claims, held
  // to it. Null for a track whose codec's frames this reader does not check (ALAC, MLP, DTS
  // Express, TrueHD without a leading major sync: from then on, for every frame alike).
  let framesSeconds: number | null = 0;
  let pos = seg.data;

  // The element header at `at`, checked to fit its parent. Sync when the window holds it (the hot
  // path: one call per block), so a cluster of hundreds of blocks costs no await per block.
  const checked = (h: Head | null, at: number, limit: number, where: string): Head => {
    if (h === null) fail(`unreadable data at byte ${at} in the ${where}`);
    if (h.size !== null && h.data + h.size > limit) {
      if (h.data + h.size > r.size) {
        fail(`truncated: element at byte ${at} declares ${h.size} bytes, ${r.size - h.data} present`);
      }
      fail(`element at byte ${at} overruns the ${where} (corrupt)`);
    }
    return h;
  };
  const element = (at: number, limit: number, where: string): Head | Promise<Head> => {
    const b = r.view(at, 12);
    if (b) return checked(head(b, 0, at), at, limit, where);
    return r.read(at, 12).then((fresh) => checked(head(fresh, 0, at), at, limit, where));
  };
  // A copy of a master element kept while the file is walked (Info, Tracks), within the bound.
  const kept = (h: Head): Promise<Buffer> => {
    if (h.size === null || h.size > MAX_ELEMENT_BYTES) {
      fail(`element at byte ${h.data} too large or of unknown size (corrupt)`);
    }
    return r.copy(h.data, h.size);
  };
  // A view of the element's bytes: used before the next read (which may reuse the window).
  const whole = (h: Head): Buffer | Promise<Buffer> => {
    if (h.size === null || h.size > MAX_ELEMENT_BYTES) {
      fail(`element at byte ${h.data} too large or of unknown size (corrupt)`);
    }
    return r.view(h.data, h.size) ?? r.read(h.data, h.size);
  };
  // A block's bytes are b[s, e): indices, not views, since this runs once per packet.
  const block = (b: Buffer, s: number, e: number, clusterTs: number, durationTicks: number | null): void => {
    const t = vint(b, s, false);
    if (t === null || e - s < t.length + 3) fail('corrupt block');
    if (!track || t.value !== track.number) return;
    const p = s + t.length;
    const timecode = b.readInt16BE(p);
    const lacing = ((b[p + 2] as number) >> 1) & 3;
    let own: number | null = 0;
    let count = 1;
    if (lacing === 0) own = checkFrame(track, b, p + 3, e, blocks);
    else {
      const frames = laces(b.subarray(p + 3, e), lacing);
      count = frames.length;
      for (const f of frames) {
        const lasts = checkFrame(track, f, 0, f.length, blocks);
        own = own === null || lasts === null ? null : own + lasts;
      }
    }
    blocks++;
    framesSeconds = framesSeconds === null || own === null ? null : framesSeconds + own;
    const at = ((clusterTs + timecode) * scaleNs) / 1e9;
    const seconds =
      durationTicks !== null
        ? (durationTicks * scaleNs) / 1e9
        : exactFrames(track) && own !== null
          ? own
          : (track.defaultDurationNs * count) / 1e9;
    start = Math.min(start, at);
    end = Math.max(end, at + seconds);
  };

  while (pos < segEnd) {
    const h = await element(pos, segEnd, 'Segment');
    if (h.id === CLUSTER) {
      const clusterEnd = h.size === null ? segEnd : h.data + h.size;
      let ts = 0;
      let at = h.data;
      while (at < clusterEnd) {
        const o = r.span(at, 12);
        const c =
          o >= 0
            ? checked(head(r.buffer, o, at - o), at, clusterEnd, 'Cluster')
            : await element(at, clusterEnd, 'Cluster');
        if (h.size === null && SEGMENT_LEVEL.has(c.id)) break; // the next cluster (or Cues...) ends this one
        if (c.size === null) fail(`element of unknown size at byte ${at} (corrupt)`);
        if (c.id === SIMPLE_BLOCK) {
          const bo = r.span(c.data, c.size);
          if (bo >= 0 && c.size <= MAX_ELEMENT_BYTES) block(r.buffer, bo, bo + c.size, ts, null);
          else {
            const b = await whole(c);
            block(b, 0, b.length, ts, null);
          }
        } else if (c.id === CLUSTER_TIMESTAMP) ts = uint(await whole(c));
        else if (c.id === BLOCK_GROUP) {
          let data: Buffer | null = null;
          let duration: number | null = null;
          for (const [id, v] of children(await whole(c), 'BlockGroup')) {
            if (id === BLOCK) data = v;
            else if (id === BLOCK_DURATION) duration = uint(v);
          }
          if (data) block(data, 0, data.length, ts, duration);
        }
        at = c.data + c.size;
      }
      pos = at;
      continue;
    }
    if (h.size === null) fail(`element of unknown size at byte ${pos} (corrupt)`);
    if (h.id === INFO) {
      for (const [id, v] of children(await kept(h), 'Info')) {
        if (id === TIMESTAMP_SCALE) scaleNs = uint(v) || 1e6;
        else if (id === DURATION && (v.length === 4 || v.length === 8))
          declared = v.length === 4 ? v.readFloatBE(0) : v.readDoubleBE(0);
      }
    } else if (h.id === TRACKS && !track) {
      track = audioTrack(await kept(h));
      if (track === null) fail('no audio track');
    }
    pos = h.data + h.size;
  }
  if (!(segEnd === r.size || (await isZeros(r, segEnd, r.size))))
    fail(`unreadable data at byte ${segEnd}, after the Segment`);
  if (track === null) fail('no audio track');
  if (!(blocks > 0)) fail('no audio blocks');
  const declaredSeconds = declared === null ? null : (declared * scaleNs) / 1e9;
  if (!(declaredSeconds === null || declaredSeconds <= end + DURATION_SLACK_SECONDS))
    fail(
      `truncated: Duration declares ${declaredSeconds?.toFixed(3)} s, the blocks end at ${end.toFixed(3)} s`,
    );
  // A gap between timestamps, or one 20 ms block stated as lasting an hour, is no audio.
  return framesSeconds === null ? end - start : Math.min(end - start, framesSeconds);
}

/**
 * Whether a block lasts exactly what its frames say (Opus packets, AC-3, DTS, TrueHD and FLAC frame headers, PCM bytes),
 * so a block without a BlockDuration lasts that rather than the DefaultDuration (which ffmpeg does
 * not write for FLAC or PCM: the last block would count as no time).
 */
const exactFrames = (track: Track): boolean =>
  ['A_OPUS', 'A_AC3', 'A_EAC3', 'A_TRUEHD'].includes(track.codec) ||
  isDts(track.codec) ||
  track.flac !== null ||
  track.pcm !== null;

/** Matroska's DTS codec ids: `A_DTS`, `A_DTS/EXPRESS`, `A_DTS/LOSSLESS`. */
const isDts = (codec: string): boolean => codec === 'A_DTS' || codec.startsWith('A_DTS/');

/** Matroska's MPEG-1/2 audio codec ids: each block one or more whole frames. */
const MPEG_AUDIO = new Set(['A_MPEG/L1', 'A_MPEG/L2', 'A_MPEG/L3']);

/**
 * An AAC track's configuration: its CodecPrivate's AudioSpecificConfig (`A_AAC`), or, for the old
 * ids that carried none (`A_AAC/MPEG4/LC/SBR` and the like), the one their name and
 * SamplingFrequency imply, as ffmpeg's Matroska demuxer makes it. Without one no frame could be
 * checked, and every unit would count at its longest: refused.
 */
function aacConfig(codec: string, codecPrivate: Buffer | null, audio: Buffer | null): AacConfig {
  let config = codecPrivate && codecPrivate.length > 0 ? parseAudioSpecificConfig(codecPrivate) : null;
  const profile = /^A_AAC\/MPEG[24]\/(MAIN|LC|SSR|LTP)(\/SBR)?$/.exec(codec)?.[1];
  if (config === null && profile) {
    const rate = samplingFrequency(audio);
    // The first rate index at or below it, as ffmpeg picks (AAC_RATES runs from high to low).
    const found = AAC_RATES.findIndex((r) => r <= rate);
    const rateIndex = found < 0 ? AAC_RATES.length - 1 : found;
    config = {
      objectType: ['MAIN', 'LC', 'SSR', 'LTP'].indexOf(profile) + 1,
      rateIndex,
      sampleRate: AAC_RATES[rateIndex] as number,
      channelConfig: 0,
    };
  }
  if (config === null) fail('the AAC track has no valid AudioSpecificConfig (corrupt)');
  const problem = aacConfigProblem(config);
  if (problem !== null) fail(problem);
  checkSampleRate(config.sampleRate, 'the AAC track');
  return config;
}

/** Matroska's AAC codec ids: `A_AAC`, and the older `A_AAC/MPEG4/LC/SBR` and the like. */
const isAac = (codec: string): boolean => codec === 'A_AAC' || codec.startsWith('A_AAC/');

/** The first audio TrackEntry in Tracks. */
function audioTrack(tracks: Buffer): Track | null {
  for (const [id, entry] of children(tracks, 'Tracks')) {
    if (id !== TRACK_ENTRY) continue;
    let type = 0;
    const t: Track = {
      number: 0,
      codec: '',
      aac: null,
      vorbisPacketSeconds: null,
      flac: null,
      pcm: null,
      truehdUnitSeconds: null,
      defaultDurationNs: 0,
    };
    let codecPrivate: Buffer | null = null;
    let audio: Buffer | null = null;
    for (const [eid, v] of children(entry, 'TrackEntry')) {
      if (eid === TRACK_NUMBER) t.number = uint(v);
      else if (eid === TRACK_TYPE) type = uint(v);
      else if (eid === CODEC_ID) t.codec = v.toString('latin1').replace(/\0+$/, '');
      else if (eid === DEFAULT_DURATION) t.defaultDurationNs = uint(v);
      else if (eid === CODEC_PRIVATE) codecPrivate = v;
      else if (eid === AUDIO) audio = v;
    }
    if (type === 2) {
      if (isAac(t.codec)) t.aac = aacConfig(t.codec, codecPrivate, audio);
      if (t.codec === 'A_VORBIS') t.vorbisPacketSeconds = vorbisPacketSeconds(codecPrivate);
      if (t.codec === 'A_FLAC') t.flac = flacStreamInfo(codecPrivate);
      if (t.codec.startsWith('A_PCM/')) t.pcm = pcmLayout(audio);
      return t;
    }
  }
  return null;
}

/**
 * The most one Vorbis audio packet can last: half its long block at the stream's rate (Vorbis I
 * §1.3.2), from the identification header that leads the CodecPrivate's three headers. A Vorbis
 * track without a valid one cannot be decoded: refused.
 */
function vorbisPacketSeconds(codecPrivate: Buffer | null): number {
  const at = codecPrivate?.indexOf('\x01vorbis', 0, 'latin1') ?? -1;
  const ident = codecPrivate && at >= 0 ? parseVorbisIdent(codecPrivate.subarray(at)) : null;
  if (ident === null) fail('the Vorbis track has no valid identification header (corrupt)');
  checkSampleRate(ident.rate, 'the Vorbis track');
  return ident.longBlock / 2 / ident.rate;
}

/**
 * The STREAMINFO a FLAC track's CodecPrivate starts with ("fLaC", then the metadata blocks, as in
 * a FLAC file; Matroska's codec mapping). Without it no frame can be checked: refused.
 */
function flacStreamInfo(codecPrivate: Buffer | null): StreamInfo {
  const ok = codecPrivate?.toString('latin1', 0, 4) === 'fLaC' && ((codecPrivate[4] as number) & 0x7f) === 0;
  const info = ok ? parseStreamInfo(codecPrivate.subarray(8)) : null;
  if (info === null) fail('the FLAC track has no valid STREAMINFO (corrupt)');
  checkSampleRate(info.sampleRate, 'the FLAC track');
  return info;
}

/** The Audio element's SamplingFrequency (a float), or 8000 Hz, its default, when absent. */
function samplingFrequency(audio: Buffer | null): number {
  let rate = 8000;
  for (const [id, v] of audio ? children(audio, 'Audio') : [])
    if (id === SAMPLING_FREQUENCY && (v.length === 4 || v.length === 8))
      rate = v.length === 4 ? v.readFloatBE(0) : v.readDoubleBE(0);
  return rate;
}

/**
 * A PCM track's layout from its Audio element: SamplingFrequency (8000 Hz when absent, its
 * default), Channels (default 1) and BitDepth, which has no default: a PCM track without it
 * cannot be played, and its blocks' length could not be known.
 */
function pcmLayout(audio: Buffer | null): { frameBytes: number; rate: number } {
  const rate = samplingFrequency(audio);
  let channels = 1;
  let bits = 0;
  for (const [id, v] of audio ? children(audio, 'Audio') : []) {
    if (id === CHANNELS) channels = uint(v);
    else if (id === BIT_DEPTH) bits = uint(v);
  }
  if (!(channels > 0 && bits > 0 && bits % 8 === 0))
    fail('the PCM track states no channels or bit depth (corrupt)');
  checkSampleRate(rate, 'the PCM track');
  return { frameBytes: (channels * bits) / 8, rate };
}

/** The frames of a block's payload by its lacing (RFC 9559 §10.3). */
function laces(b: Buffer, lacing: number): Buffer[] {
  if (lacing === 0) return [b];
  if (!(b.length >= 1)) fail('corrupt block lacing');
  const count = (b[0] as number) + 1;
  let i = 1;
  const sizes: number[] = [];
  if (lacing === 1) {
    for (let f = 0; f < count - 1; f++) {
      let size = 0;
      for (;;) {
        const v = b[i++];
        if (v === undefined) fail('corrupt block lacing');
        size += v;
        if (v !== 255) break;
      }
      sizes.push(size);
    }
  } else if (lacing === 3) {
    const first = vint(b, i, false);
    if (first === null) fail('corrupt block lacing');
    i += first.length;
    sizes.push(first.value);
    for (let f = 1; f < count - 1; f++) {
      const d = vint(b, i, false);
      if (d === null) fail('corrupt block lacing');
      i += d.length;
      sizes.push((sizes[f - 1] as number) + d.value - (2 ** (7 * d.length - 1) - 1));
    }
  } else {
    const rest = b.length - 1;
    if (!(rest % count === 0)) fail('corrupt block lacing');
    return Array.from({ length: count }, (_, f) =>
      b.subarray(1 + (f * rest) / count, 1 + ((f + 1) * rest) / count),
    );
  }
  const frames: Buffer[] = [];
  for (const size of sizes) {
    if (!(size >= 0 && i + size <= b.length)) fail('corrupt block lacing');
    frames.push(b.subarray(i, i + size));
    i += size;
  }
  frames.push(b.subarray(i));
  return frames;
}

/**
 * Checks one audio frame, b[s, e), as its codec requires; returns the seconds it can last by its
 * own bytes (Opus, MPEG, AC-3, DTS, TrueHD, FLAC and PCM exactly, AAC and Vorbis at most), or null for a codec whose
 * frames do not say.
 */
function checkFrame(track: Track, b: Buffer, s: number, e: number, index: number): number | null {
  if (track.codec === 'A_OPUS') {
    const n = opusPacketSamples(b, s, e);
    if (n === null) fail(`block ${index + 1} is not an Opus packet (corrupt)`);
    return n / 48000;
  }
  if (track.codec === 'A_VORBIS') {
    if (e <= s || ((b[s] as number) & 1) !== 0)
      fail(`block ${index + 1} is not a Vorbis audio packet (corrupt)`);
    return track.vorbisPacketSeconds;
  }
  // An empty AAC unit carries no audio (one byte of fixed lacing makes 256 of them): no time.
  if (isAac(track.codec) && e <= s) return 0;
  if (track.aac) {
    const problem = aacFrameProblem(b.subarray(s, e), track.aac);
    if (problem !== null) fail(`block ${index + 1}: ${problem} (corrupt)`);
    return aacUnitMaxSeconds(track.aac);
  }
  if (MPEG_AUDIO.has(track.codec)) {
    const lasts = mpegFramesSeconds(b, s, e);
    if (lasts === null) fail(`block ${index + 1} is not an MPEG audio frame (corrupt)`);
    return lasts;
  }
  if (track.flac) {
    const frame = checkFlacFrame(b.subarray(s, e), track.flac, `block ${index + 1}`);
    return frame.blockSize / track.flac.sampleRate;
  }
  if (track.codec === 'A_AC3' || track.codec === 'A_EAC3') {
    const lasts = ac3FramesSeconds(b, s, e);
    if (lasts === null) fail(`block ${index + 1} is not whole AC-3 frames (corrupt)`);
    return lasts;
  }
  if (track.codec === 'A_TRUEHD') {
    const units = truehdUnitsSeconds(b, s, e, track.truehdUnitSeconds);
    if (units === null) fail(`block ${index + 1} is not whole TrueHD access units (corrupt)`);
    track.truehdUnitSeconds = units.unitSeconds;
    // A stream that does not start with a major sync gives no rate for its first units: not held.
    return units.unknown > 0 ? null : units.seconds;
  }
  if (isDts(track.codec)) {
    const frames = dtsFramesSeconds(b, s, e);
    if (frames === null) fail(`block ${index + 1} is not whole DTS frames (corrupt)`);
    // Extension substreams alone (DTS Express) do not say how long they last: not held.
    return frames.cores > 0 ? frames.seconds : null;
  }
  // PCM has no framing to check: its bytes say how long it lasts.
  if (track.pcm) return Math.floor((e - s) / track.pcm.frameBytes) / track.pcm.rate;
  return null;
}
