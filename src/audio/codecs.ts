/**
 * What a container's packets must look like inside, checked without decoding: the framing every
 * Opus packet obeys (RFC 6716 §3.2), the first syntax elements of an AAC frame (ISO 14496-3
 * §4.4.2), and an MPEG audio frame header (ISO 11172-3 §2.4.2.3). Random or overwritten bytes
 * break these rules within a few packets, while a real encoder's output always keeps them.
 */

/** Samples at 48 kHz of one Opus frame by TOC config: SILK 10/20/40/60, Hybrid 10/20, CELT 2.5/5/10/20 ms. */
const OPUS_FRAME_SAMPLES = Array.from({ length: 32 }, (_, c) =>
  c < 12 ? [480, 960, 1920, 2880][c & 3] : c < 16 ? [480, 960][c & 1] : [120, 240, 480, 960][c & 3],
) as number[];

/**
 * Samples (at 48 kHz) in the Opus packet p[start, end), or null when it breaks RFC 6716's rules
 * R1–R7. Indices rather than a view: it runs once per packet, thousands of times a file.
 */
export function opusPacketSamples(p: Uint8Array, start = 0, end = p.length): number | null {
  const n = end - start;
  if (n < 1) return null; // R1
  const toc = p[start] as number;
  const frameSamples = OPUS_FRAME_SAMPLES[toc >> 3] as number;
  const code = toc & 3;
  if (code === 0) return n - 1 <= 1275 ? frameSamples : null;
  if (code === 1) return (n - 1) % 2 === 0 && (n - 1) / 2 <= 1275 ? 2 * frameSamples : null; // R3
  if (code === 2) {
    if (n < 2) return null; // R4
    const b0 = p[start + 1] as number;
    const lenBytes = b0 < 252 ? 1 : 2;
    if (n < 1 + lenBytes) return null;
    const first = b0 < 252 ? b0 : b0 + 4 * (p[start + 2] as number);
    const rest = n - 1 - lenBytes;
    return first <= rest && rest - first <= 1275 ? 2 * frameSamples : null;
  }
  if (n < 2) return null; // R6/R7: code 3 needs its frame-count byte
  const fc = p[start + 1] as number;
  const frames = fc & 0x3f;
  if (frames === 0 || frames * frameSamples > 5760) return null; // R5: at most 120 ms
  let i = start + 2;
  let padding = 0;
  if (fc & 0x40) {
    for (;;) {
      if (i >= end) return null;
      const b = p[i++] as number;
      padding += b === 255 ? 254 : b;
      if (b !== 255) break;
    }
  }
  if (fc & 0x80) {
    let sum = 0;
    for (let f = 0; f < frames - 1; f++) {
      if (i >= end) return null;
      const b0 = p[i++] as number;
      let len = b0;
      if (b0 >= 252) {
        if (i >= end) return null;
        len = b0 + 4 * (p[i++] as number);
      }
      if (len > 1275) return null;
      sum += len;
    }
    const last = end - i - padding - sum;
    return last >= 0 && last <= 1275 ? frames * frameSamples : null;
  }
  const data = end - i - padding;
  return data >= 0 && data % frames === 0 && data / frames <= 1275 ? frames * frameSamples : null;
}

/** Reads bits MSB-first; reading past the end yields zeros and sets `overrun`. */
class Bits {
  private pos: number;
  private readonly end: number;
  overrun = false;
  /** Over bytes[start, end) (bit positions count from the start of `bytes`). */
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start * 8;
    this.end = end * 8;
  }
  read(count: number): number {
    let v = 0;
    for (let k = 0; k < count; k++) {
      const byte = this.pos < this.end ? this.bytes[this.pos >> 3] : undefined;
      if (byte === undefined) this.overrun = true;
      v = v * 2 + (((byte ?? 0) >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }
  skip(count: number): void {
    this.pos += count;
    if (this.pos > this.end) this.overrun = true;
  }
  align(): void {
    this.pos = (this.pos + 7) & ~7;
  }
}

/** The AAC sampling rates by sampling_frequency_index (ISO 14496-3 Table 1.18). */
export const AAC_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];
// Scalefactor bands per long and short window, by sampling_frequency_index (§4.5.4, Tables 4.129ff.).
const SWB_LONG = [41, 41, 47, 49, 49, 51, 47, 47, 43, 43, 43, 40, 40];
const SWB_SHORT = [12, 12, 12, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15];

/** What an AAC frame check needs from the stream's configuration. */
export interface AacConfig {
  /** The core audio object type: 1 Main, 2 LC, 3 SSR, 4 LTP (SBR/PS ride on an LC core). */
  objectType: number;
  /** sampling_frequency_index of the core coder (an explicit rate maps to none: -1). */
  rateIndex: number;
  sampleRate: number;
  channelConfig: number;
}

/** Parses an AudioSpecificConfig (MP4 `esds`; ISO 14496-3 §1.6.2.1), or null when it is not one. */
export function parseAudioSpecificConfig(bytes: Uint8Array): AacConfig | null {
  const b = new Bits(bytes);
  const objectType = (): number => {
    const t = b.read(5);
    return t === 31 ? 32 + b.read(6) : t;
  };
  const rate = (): [number, number] => {
    const i = b.read(4);
    return i === 15 ? [-1, b.read(24)] : [i, AAC_RATES[i] ?? 0];
  };
  let type = objectType();
  const [rateIndex, sampleRate] = rate();
  const channelConfig = b.read(4);
  if (type === 5 || type === 29) {
    rate(); // the SBR output rate; the core coder runs at the rate above
    type = objectType();
  }
  if (b.overrun || sampleRate === 0) return null;
  return { objectType: type, rateIndex, sampleRate, channelConfig };
}

/**
 * Samples one access unit of each MPEG-4 audio object type lasts at most, for the types whose
 * frame length ISO 14496-3 fixes: AAC Main, LC, SSR, LTP and scalable and their ER forms 1024
 * (960 is shorter), ER BSAC 1024, AAC LD and ELD 512 (480 is shorter), the MPEG-1/2 layers 1152,
 * USAC 4096 (its longest output frame). SBR and PS are read as their core type, whose rate they
 * run at, so 1024 core samples are 2048 output ones. Others get AAC_OTHER_UNIT_SAMPLES.
 */
const AAC_UNIT_SAMPLES = new Map<number, number>([
  [1, 1024],
  [2, 1024],
  [3, 1024],
  [4, 1024],
  [6, 1024],
  [17, 1024],
  [19, 1024],
  [20, 1024],
  [22, 1024],
  [23, 512],
  [39, 512],
  [32, 1152],
  [33, 1152],
  [34, 1152],
  [42, 4096],
]);

/**
 * Why an AudioSpecificConfig cannot be read by this service, or null. An object type with no
 * frame length above (ALS, SLS, the speech coders) would let each unit claim up to 65536 samples
 * unchecked; AAC Main, LC, SSR or LTP at an explicit rate has no scalefactor band table, so its
 * frames could not be checked, and ffmpeg's decoder refuses it too.
 */
export function aacConfigProblem(config: AacConfig): string | null {
  if (!AAC_UNIT_SAMPLES.has(config.objectType))
    return `MPEG-4 audio object type ${config.objectType} is not AAC, nor read here`;
  if (config.objectType <= 4 && config.rateIndex < 0)
    return `the AAC track states an explicit rate (${config.sampleRate} Hz) instead of a rate index`;
  return null;
}

/**
 * Samples a unit of any other object type is held to: ALS's frame length field counts up to 65536
 * (DST's 1/75 s at 2.8 MHz is less), so no MPEG-4 audio unit lasts longer at its stated rate.
 */
const AAC_OTHER_UNIT_SAMPLES = 65536;

/**
 * The longest one access unit of the stream can last, in seconds. A bound, not a measure: it
 * holds the length a container claims to what its frames can carry.
 */
export function aacUnitMaxSeconds(config: AacConfig): number {
  return (AAC_UNIT_SAMPLES.get(config.objectType) ?? AAC_OTHER_UNIT_SAMPLES) / config.sampleRate;
}

/**
 * Null when the AAC frame's first syntax elements are what an encoder writes: optional fill and
 * data elements, then a channel element whose ics_info has its reserved bit clear, no more
 * scalefactor bands than its sample rate has, and (in AAC LC) no prediction. Otherwise a reason.
 * Only the GA object types (Main, LC, SSR, LTP) with a known rate are checked; others pass.
 * The frame is frame[start, end).
 */
export function aacFrameProblem(
  frame: Uint8Array,
  config: AacConfig,
  start = 0,
  end = frame.length,
): string | null {
  if (config.objectType < 1 || config.objectType > 4 || config.rateIndex < 0 || config.rateIndex > 12)
    return null;
  if (end <= start) return null; // an empty access unit carries nothing to check
  const b = new Bits(frame, start, end);
  for (let element = 0; element < 8; element++) {
    const id = b.read(3);
    if (id === 4) {
      // DSE: element_instance_tag, data_byte_align_flag, count (+ escape), the bytes
      b.read(4);
      const align = b.read(1);
      let count = b.read(8);
      if (count === 255) count += b.read(8);
      if (align) b.align();
      b.skip(count * 8);
    } else if (id === 6) {
      // FIL: count (+ escape), the bytes
      let count = b.read(4);
      if (count === 15) count += b.read(8) - 1;
      b.skip(count * 8);
    } else if (id === 0 || id === 1 || id === 3) {
      b.read(4); // element_instance_tag
      if (id !== 1 || b.read(1) === 0) b.read(8); // global_gain of an ICS without common window
      if (b.read(1) !== 0) return 'AAC frame with its reserved bit set';
      const windowSequence = b.read(2);
      b.read(1);
      const short = windowSequence === 2;
      const maxSfb = b.read(short ? 4 : 6);
      const limit = (short ? SWB_SHORT : SWB_LONG)[config.rateIndex] as number;
      if (maxSfb > limit) return `AAC frame with ${maxSfb} scalefactor bands (at most ${limit})`;
      if (!short && config.objectType === 2 && b.read(1) !== 0) return 'AAC LC frame with prediction';
      return b.overrun ? 'AAC frame cut short' : null;
    } else if (id === 2 || id === 5) {
      return null; // a coupling channel or program config element: legal, not checked further
    } else {
      return 'AAC frame with no channel element';
    }
    if (b.overrun) return 'AAC frame cut short';
  }
  return 'AAC frame with no channel element';
}

/** An MPEG audio frame header (ISO 11172-3 / 13818-3). */
export interface MpegHeader {
  /** 1 (MPEG-1), 2 (MPEG-2) or 2.5. */
  version: number;
  layer: number;
  sampleRate: number;
  bitrate: number;
  /** Bytes in the frame, header included. */
  length: number;
  /** Samples per channel the frame decodes to. */
  samples: number;
  mono: boolean;
  /** Whether a CRC-16 follows the header (protection_bit 0). */
  crc: boolean;
}

const MPEG_BITRATES: Record<string, number[]> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MPEG_RATES: Record<number, number[]> = {
  1: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  2.5: [11025, 12000, 8000],
};

/**
 * The MPEG audio frame header at b[0..3], or null when those bytes are not one: sync, a defined
 * version, layer, bitrate (free format is not accepted: its frames have no stated length) and
 * sample rate, and no reserved emphasis.
 */
export function parseMpegHeader(b: Uint8Array): MpegHeader | null {
  if (b.length < 4 || b[0] !== 0xff || ((b[1] as number) & 0xe0) !== 0xe0) return null;
  const b1 = b[1] as number;
  const b2 = b[2] as number;
  const b3 = b[3] as number;
  const version = [2.5, 0, 2, 1][(b1 >> 3) & 3] as number;
  const layer = [0, 3, 2, 1][(b1 >> 1) & 3] as number;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 0 || layer === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3)
    return null;
  if ((b3 & 3) === 2) return null; // reserved emphasis
  const table = version === 1 ? `1-${layer}` : layer === 1 ? '2-1' : '2-2';
  const bitrate = (MPEG_BITRATES[table] as number[])[bitrateIndex] as number;
  const sampleRate = (MPEG_RATES[version] as number[])[rateIndex] as number;
  const padding = (b2 >> 1) & 1;
  const samples = layer === 1 ? 384 : layer === 3 && version !== 1 ? 576 : 1152;
  const length =
    layer === 1
      ? (Math.floor((12 * bitrate * 1000) / sampleRate) + padding) * 4
      : Math.floor(((samples / 8) * bitrate * 1000) / sampleRate) + padding;
  return { version, layer, sampleRate, bitrate, length, samples, mono: b3 >> 6 === 3, crc: (b1 & 1) === 0 };
}

/** The longest an MPEG audio frame lasts: 1152 samples at 8000 Hz (MPEG-2.5 Layer II). */
const MPEG_LONGEST_FRAME_SECONDS = 1152 / 8000;

/**
 * Seconds of the MPEG audio frames laid end to end in b[start, end) (a block or sample may hold
 * several), or null when b[start] begins no frame. Bytes after the last whole frame that begin no
 * frame count as the longest frame could last: the bound stays local to them, however they were made.
 */
export function mpegFramesSeconds(b: Uint8Array, start = 0, end = b.length): number | null {
  let seconds = 0;
  for (let at = start; at < end; ) {
    const header = parseMpegHeader(b.subarray(at, Math.min(end, at + 4)));
    if (header === null) return at === start ? null : seconds + MPEG_LONGEST_FRAME_SECONDS;
    // A frame cut by the sample's end lasts only the share of its bytes that is there: a 4-byte
    // header alone must not count a whole 144 ms frame.
    const share = Math.min(1, (end - at) / header.length);
    seconds += (share * header.samples) / header.sampleRate;
    at += header.length;
  }
  return seconds;
}

const AC3_RATES = [48000, 44100, 32000];
const AC3_BITRATES = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];

/**
 * An AC-3 or E-AC-3 sync frame at b[at..] (ATSC A/52 §5.4.1 and Annex E §2.3.1): its bytes and the
 * samples it decodes to, or null when those bytes are not one. Both keep bsid at bits 40–44:
 * up to 10 is AC-3 (1536 samples, the size from fscod and frmsizecod), 11 to 16 E-AC-3 (256
 * samples a block, 1–6 blocks, the size in frmsiz). A dependent E-AC-3 substream adds channels
 * to the frame before it, not time, and another independent one another programme: 0 samples.
 */
export function parseAc3Frame(
  b: Uint8Array,
  at: number,
): { length: number; samples: number; rate: number } | null {
  if (at + 6 > b.length || b[at] !== 0x0b || b[at + 1] !== 0x77) return null;
  const bsid = (b[at + 5] as number) >> 3;
  if (bsid <= 10) {
    const fscod = (b[at + 4] as number) >> 6;
    const code = (b[at + 4] as number) & 0x3f;
    const kbps = AC3_BITRATES[code >> 1];
    if (fscod === 3 || kbps === undefined) return null;
    const words =
      fscod === 0 ? kbps * 2 : fscod === 2 ? kbps * 3 : Math.floor((kbps * 96000) / 44100) + (code & 1);
    // bsid 9 and 10 are the half- and quarter-rate streams (A/52 Annex D as ffmpeg reads it): the
    // same frame sizes, at half and a quarter of the rate, so each frame lasts 2 and 4 times as long.
    const rate = (AC3_RATES[fscod] as number) / 2 ** (Math.max(bsid, 8) - 8);
    return { length: words * 2, samples: 1536, rate };
  }
  if (bsid > 16) return null;
  const strmtyp = (b[at + 2] as number) >> 6;
  const frmsiz = (((b[at + 2] as number) & 7) << 8) | (b[at + 3] as number);
  const fscod = (b[at + 4] as number) >> 6;
  const fscod2 = ((b[at + 4] as number) >> 4) & 3;
  if (strmtyp === 3 || (fscod === 3 && fscod2 === 3)) return null;
  const rate = fscod === 3 ? (AC3_RATES[fscod2] as number) / 2 : (AC3_RATES[fscod] as number);
  const blocks = fscod === 3 ? 6 : ([1, 2, 3, 6][fscod2] as number);
  const length = (frmsiz + 1) * 2;
  // E-AC-3 runs at 32 kbit/s and up (Annex E §1): a frame of fewer bytes than half that rate
  // fills, or shorter than its own 7-byte header (ffmpeg's floor), is no encoder's, and would let a
  // few bytes claim hours (6 bytes a 96 ms frame).
  if (length < 7 || length * 8 < (16000 * blocks * 256) / rate) return null;
  // A dependent substream adds channels to the frame before it, and an independent one other than
  // substream 0 is another programme over the same time: neither adds time.
  const substream = ((b[at + 2] as number) >> 3) & 7;
  return { length, samples: strmtyp === 1 || substream !== 0 ? 0 : blocks * 256, rate };
}

/**
 * Seconds of the AC-3 or E-AC-3 sync frames that make up b[start, end) exactly, or null when the
 * bytes are not whole frames laid end to end (a Matroska block holds whole frames).
 */
export function ac3FramesSeconds(b: Uint8Array, start: number, end: number): number | null {
  let seconds = 0;
  let at = start;
  while (at < end) {
    const frame = parseAc3Frame(b.subarray(0, end), at);
    if (frame === null || at + frame.length > end) return null;
    seconds += frame.samples / frame.rate;
    at += frame.length;
  }
  return at === start ? null : seconds;
}

/** The DTS core's other sync words: 14-bit big-endian, 16-bit and 14-bit little-endian. */
const DTS_OTHER_SYNCS = [0x1fffe800, 0xfe7f0180, 0xff1f00e8];

/** DTS core sample rates by SFREQ (ETSI TS 102 114 Table 5-5); 0: invalid. */
const DTS_RATES = [0, 8000, 16000, 32000, 0, 0, 11025, 22050, 44100, 0, 0, 12000, 24000, 48000, 0, 0];

/**
 * Seconds of the DTS frames that make up b[start, end) exactly: core frames (ETSI TS 102 114
 * §5.3.1: 16-bit big-endian sync 0x7FFE8001, NBLKS blocks of 32 samples, FSIZE + 1 bytes) and
 * DTS-HD extension substreams (§7.4.1: sync 0x64582025, their own size), which extend the core
 * frame before them and add no time. `cores` counts the core frames: a block of substreams alone
 * (DTS Express) says nothing of its time. Null when the bytes are not such frames end to end.
 */
export function dtsFramesSeconds(
  b: Uint8Array,
  start: number,
  end: number,
): { seconds: number; cores: number } | null {
  let seconds = 0;
  let cores = 0;
  let at = start;
  while (at < end) {
    if (at + 10 > end) return null;
    // Unsigned: `|` alone would make a sync word from 0x80000000 up negative.
    const sync =
      (((b[at] as number) << 24) |
        ((b[at + 1] as number) << 16) |
        ((b[at + 2] as number) << 8) |
        (b[at + 3] as number)) >>>
      0;
    // The 48 bits after the sync word, as a number (exact: under 2^53); bit i from the left is
    // at 2^(47 - i).
    let v = 0;
    for (let k = 4; k < 10; k++) v = v * 256 + (b[at + k] as number);
    let length: number;
    if (sync === 0x7ffe8001) {
      // FTYPE (1), SHORT (5), CPF (1), NBLKS (7), FSIZE (14), AMODE (6), SFREQ (4).
      const blocks = Math.floor(v / 2 ** 34) & 0x7f;
      const bytes = (Math.floor(v / 2 ** 20) & 0x3fff) + 1;
      const rate = DTS_RATES[Math.floor(v / 2 ** 10) & 0xf] as number;
      // NBLKS 5–127 (6 to 128 blocks) and FSIZE 95–16383: anything else is no encoder's.
      if (!(blocks >= 5 && bytes >= 96 && rate > 0)) return null;
      seconds += ((blocks + 1) * 32) / rate;
      cores++;
      length = bytes;
    } else if (sync === 0x64582025) {
      // UserDefinedBits (8), nExtSSIndex (2), bHeaderSizeType (1), then the header and frame sizes.
      const wide = Math.floor(v / 2 ** 37) & 1;
      length = wide ? (Math.floor(v / 2 ** 5) & 0xfffff) + 1 : (Math.floor(v / 2 ** 13) & 0xffff) + 1;
      if (!(length >= 10)) return null;
    } else if (at === start && DTS_OTHER_SYNCS.includes(sync)) {
      // The 14-bit and little-endian forms (DTS for CDs and WAV) are not read: not held.
      return { seconds: 0, cores: 0 };
    } else return null;
    if (at + length > end) return null;
    at += length;
  }
  return at === start ? null : { seconds, cores };
}

/**
 * The TrueHD access units that make up b[start, end) exactly (Dolby's MLP/TrueHD format, as
 * ffmpeg's mlp_parse reads it): each starts with a check nibble and its length in 16-bit words,
 * and a major sync (0xF8726FBA) states the rate, by which every unit is 40 samples of 48 or 44.1
 * kHz (more samples at 2x and 4x the rate: the same time). `unitSeconds` is what the stream's
 * last major sync said, null before any; `unknown` counts units before one, whose time is not
 * known. Null when the bytes are not such units end to end.
 */
export function truehdUnitsSeconds(
  b: Uint8Array,
  start: number,
  end: number,
  unitSeconds: number | null,
): { seconds: number; unitSeconds: number | null; unknown: number } | null {
  let seconds = 0;
  let unknown = 0;
  let at = start;
  let current = unitSeconds;
  while (at < end) {
    if (at + 4 > end) return null;
    const length = ((((b[at] as number) & 0x0f) << 8) | (b[at + 1] as number)) * 2;
    if (!(length >= 4 && at + length <= end)) return null;
    if (
      length >= 12 &&
      b[at + 4] === 0xf8 &&
      b[at + 5] === 0x72 &&
      b[at + 6] === 0x6f &&
      b[at + 7] === 0xba
    ) {
      const bits = (b[at + 8] as number) >> 4;
      if (![0, 1, 2, 8, 9, 10].includes(bits)) return null;
      current = 40 / (bits & 8 ? 44100 : 48000);
    }
    if (current === null) unknown++;
    else seconds += current;
    at += length;
  }
  return at === start ? null : { seconds, unitSeconds: current, unknown };
}

/** What a Vorbis identification header says (Vorbis I §4.2.2). */
export interface VorbisIdent {
  rate: number;
  channels: number;
  /** Samples in a long block; an audio packet yields at most half of one. */
  longBlock: number;
}

/**
 * The Vorbis identification header p[0..], or null when it is not a valid one: version 0, at
 * least one channel, a rate, block sizes 2^6 to 2^13 with the short one no larger, the framing bit.
 */
export function parseVorbisIdent(p: Uint8Array): VorbisIdent | null {
  if (p.length < 30 || Buffer.from(p.buffer, p.byteOffset, 7).toString('latin1') !== '\x01vorbis')
    return null;
  const v = Buffer.from(p.buffer, p.byteOffset, 30);
  const channels = v[11] as number;
  const rate = v.readUInt32LE(12);
  const short = (v[28] as number) & 0xf;
  const long = (v[28] as number) >> 4;
  const ok = v.readUInt32LE(7) === 0 && channels > 0 && rate > 0 && short >= 6 && short <= long && long <= 13;
  return ok && ((v[29] as number) & 1) === 1 ? { rate, channels, longBlock: 2 ** long } : null;
}
