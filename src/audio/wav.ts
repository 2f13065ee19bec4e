import type { ByteReader } from './byte-reader.js';
import { checkSampleRate, fail, InvalidAudioError } from './invalid-audio.js';
import { mpegStreamSeconds } from './mp3.js';
import { isZeros } from './zeros.js';

/**
 * A data chunk size this large is a streaming writer's placeholder (0xFFFFFFFF from ffmpeg on a
 * pipe, 0x7FFFFFFF and 0x7FFFF000 from arecord and sox): no accepted upload comes near 2 GiB, so
 * such a size promises nothing and the audio runs to the end of the file.
 */
const PLACEHOLDER_FROM = 0x7fff0000;

/** How much PCM the random-bytes check measures: SPANS pieces of SPAN_BYTES, spread evenly. */
const SPANS = 16;
const SPAN_BYTES = 4 * 1024;

/** Int16Array reads in the platform's byte order; WAV's is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** What the fmt chunk says (WAVEFORMATEX; samplesPerBlock for MS and IMA ADPCM, else 0). */
interface Fmt {
  tag: number;
  channels: number;
  rate: number;
  byteRate: number;
  blockAlign: number;
  bits: number;
  samplesPerBlock: number;
}

/**
 * RIFF WAVE (the RIFF spec; WAVEFORMATEXTENSIBLE): the length is the sample frames the data chunk
 * really holds. Rules:
 * - truncated: the data chunk declares more bytes than the file holds (unless the size is 0 or
 *   a placeholder, which a writer that could not seek back leaves; then the data runs to the end);
 * - after the data chunk, only chunks (LIST, id3, ...; the last may be cut: the audio is all
 *   there) or zero padding may follow: other bytes are junk;
 * - PCM is checked to be sound: PCM has no framing, so a header followed by random bytes would
 *   otherwise pass as "audio". Random bytes make full-scale samples with no relation between
 *   neighbours (white noise at 0 dBFS); no recording of a voice looks like that (see pcmProblem).
 * The RIFF size field is not used: writers often leave it wrong, and it holds no audio.
 */
export async function wavSeconds(r: ByteReader): Promise<number> {
  const head = await r.read(0, 12);
  if (
    !(
      head.length === 12 &&
      head.toString('latin1', 0, 4) === 'RIFF' &&
      head.toString('latin1', 8, 12) === 'WAVE'
    )
  )
    fail('not a RIFF WAVE file');
  let fmt: Fmt | null = null;
  let factSamples: number | null = null;
  let pos = 12;
  for (;;) {
    if (!(pos + 8 <= r.size)) fail(fmt ? 'truncated: no data chunk' : 'truncated: no fmt chunk');
    const h = await r.read(pos, 8);
    const id = h.toString('latin1', 0, 4);
    const size = h.readUInt32LE(4);
    if (!/^[\x20-\x7e]{4}$/.test(id)) fail(`unreadable chunk at byte ${pos}`);
    const body = pos + 8;
    if (id === 'data') {
      if (fmt === null) fail('data chunk before the fmt chunk');
      const present = r.size - body;
      const placeholder = size === 0 || size >= PLACEHOLDER_FROM;
      if (!(placeholder || size <= present))
        fail(`truncated: data chunk declares ${size} bytes, ${present} present`);
      const bytes = placeholder ? present : size;
      if (!(bytes >= fmt.blockAlign)) fail('no audio in the data chunk');
      if (!placeholder) await trailingChunks(r, body + size + (size & 1));
      const problem = await pcmProblem(r, body, bytes, fmt);
      if (problem) throw new InvalidAudioError(problem);
      if (isPcm(fmt)) {
        return Math.floor(bytes / fmt.blockAlign) / fmt.rate;
      }
      // MPEG audio in WAV: the frames are counted, as in an MP3 file (so noise behind the header is refused).
      if (isMpeg(fmt)) return mpegStreamSeconds(r, body, body + bytes);
      // A compressed WAV: MS and IMA ADPCM state their samples per block, so the blocks present
      // give the length (their fact chunk may trim the last one); other codecs get the length of
      // the bytes present at the byte rate they declare.
      if (fmt.samplesPerBlock > 0) {
        const present = Math.floor(bytes / fmt.blockAlign) * fmt.samplesPerBlock;
        return Math.min(present, factSamples ?? present) / fmt.rate;
      }
      const bits = FOUR_BIT_CODERS.has(fmt.tag) ? 4 : 0;
      if (bits) return Math.floor((bytes * 8) / (bits * fmt.channels)) / fmt.rate;
      return bytes / fmt.byteRate;
    }
    if (!(body + size <= r.size))
      fail(`truncated: ${id.trim()} chunk declares ${size} bytes, ${r.size - body} present`);
    if (id === 'fmt ') {
      if (!(size >= 16)) fail('fmt chunk too short');
      const f = await r.read(body, Math.min(size, 40));
      let tag = f.readUInt16LE(0);
      if (tag === 0xfffe && f.length >= 26) tag = f.readUInt16LE(24); // WAVE_FORMAT_EXTENSIBLE's SubFormat
      fmt = {
        tag,
        channels: f.readUInt16LE(2),
        rate: f.readUInt32LE(4),
        byteRate: f.readUInt32LE(8),
        blockAlign: f.readUInt16LE(12),
        bits: f.readUInt16LE(14),
        // wSamplesPerBlock of MS ADPCM (2) and IMA ADPCM (0x11), after cbSize.
        samplesPerBlock: (tag === 2 || tag === 0x11) && f.length >= 20 ? f.readUInt16LE(18) : 0,
      };
      // The byte rate of MPEG audio is not used (its frames are counted), and writers of
      // MPEGLAYER3WAVEFORMAT for variable bit rate leave it 0.
      if (!(fmt.channels > 0 && fmt.rate > 0 && fmt.blockAlign > 0 && (fmt.byteRate > 0 || isMpeg(fmt))))
        fail('fmt chunk with a zero field');
      checkSampleRate(fmt.rate, 'the fmt chunk');
      checkCompressedRates(fmt);
      // A PCM frame is at least its channels' samples: a blockAlign of 1 for 16-bit mono would
      // double the length (and skew the random-bytes check's sample positions).
      if (isPcm(fmt)) fmt.blockAlign = Math.max(fmt.blockAlign, fmt.channels * Math.ceil(fmt.bits / 8));
    } else if (id === 'fact' && size >= 4) {
      factSamples = (await r.read(body, 4)).readUInt32LE(0);
    }
    pos = body + size + (size & 1);
  }
}

/**
 * A compressed WAV's length comes from fields of its fmt chunk, so they must be ones a coder could
 * write. ADPCM states its samples per block: no more than its blocks hold (IMA: a 4-byte header
 * and 4 bits a sample per channel, plus the header's sample; MS: a 7-byte header and two samples
 * in it). Any other codec gets its length from the byte rate: a quarter of a bit a sample is less
 * than any speech codec writes (GSM 6.10 is 1.6, a 2400 bit/s vocoder 0.3), where a byte rate of 1
 * would make 200 KiB last two days.
 */
function checkCompressedRates(fmt: Fmt): void {
  if (isPcm(fmt) || isMpeg(fmt)) return;
  if (FOUR_BIT_CODERS.has(fmt.tag)) return;
  const ch = fmt.channels;
  const most =
    fmt.tag === 0x11
      ? ((fmt.blockAlign - 4 * ch) * 2) / ch + 1
      : fmt.tag === 2
        ? ((fmt.blockAlign - 7 * ch) * 2) / ch + 2
        : Number.POSITIVE_INFINITY;
  if (fmt.samplesPerBlock > 0 && !(fmt.samplesPerBlock <= most))
    fail(
      `the fmt chunk states ${fmt.samplesPerBlock} samples a block, more than its ${fmt.blockAlign}-byte blocks hold (corrupt)`,
    );
  if (fmt.samplesPerBlock === 0 && !(fmt.byteRate * 32 >= fmt.rate))
    fail(
      `the fmt chunk states ${fmt.byteRate} bytes a second at ${fmt.rate} Hz, under a quarter of a bit a sample (corrupt)`,
    );
}

/** PCM, IEEE float, A-law and µ-law: a frame is blockAlign bytes, a sample each channel. */
const isPcm = (fmt: Fmt): boolean => fmt.tag === 1 || fmt.tag === 3 || fmt.tag === 6 || fmt.tag === 7;

/**
 * Coders with 4 bits a sample per channel and no blocks of their own: Yamaha ADPCM (0x20) and
 * G.722 (0x28F). Their length comes from that, not from the fmt chunk's byte rate: ffmpeg 5.1
 * writes 16000 there whatever the rate and channels (a quarter of the length, for 8 kHz mono).
 */
const FOUR_BIT_CODERS = new Set([0x20, 0x28f]);

/** WAVE_FORMAT_MPEG (0x50, Layer I/II) or WAVE_FORMAT_MPEGLAYER3 (0x55): MPEG audio frames in the data chunk. */
function isMpeg(fmt: Fmt): boolean {
  return fmt.tag === 0x50 || fmt.tag === 0x55;
}

/** After the data chunk: chunks that fit in the file, then nothing or zeros (padding). */
async function trailingChunks(r: ByteReader, from: number): Promise<void> {
  let pos = from;
  while (pos + 8 <= r.size) {
    const h = await r.read(pos, 8);
    if (h.every((b) => b === 0)) {
      if (!(await isZeros(r, pos, r.size))) fail(`unreadable data at byte ${pos}, after the audio`);
      return;
    }
    const id = h.toString('latin1', 0, 4);
    const size = h.readUInt32LE(4);
    if (!/^[\x20-\x7e]{4}$/.test(id)) fail(`unreadable data at byte ${pos}, after the audio`);
    // A metadata chunk cut at the end of the file still leaves all the audio there: accepted.
    if (pos + 8 + size >= r.size) return;
    pos += 8 + size + (size & 1);
  }
  if (!(await isZeros(r, pos, r.size))) fail(`unreadable data at byte ${pos}, after the audio`);
}

/**
 * Null when PCM samples look like sound, else why not. Float samples must be finite and within
 * ±4 (random bytes make huge exponents and NaNs). Integer samples (at least 1024) are refused when
 * they look like random bytes: a mean level above 0.3 of full scale together with neighbours no
 * closer than unrelated samples (mean |x[n] - x[n-1]| over 1.2 times mean |x|). Measured
 * on ffmpeg-made signals: uniform random bytes 0.50 and 1.34; speech boosted 30 dB
 * into a limiter 0.22 and 0.65; full-scale pink noise 0.15 and 0.60; a 440 Hz tone 0.06. Sound
 * from a microphone is dominated by low frequencies, so neighbours stay close. Only full-scale
 * white noise and square waves near the Nyquist rate are refused with random bytes: no voice.
 * The first channel is measured.
 */
async function pcmProblem(
  r: ByteReader,
  start: number,
  length: number,
  fmt: { tag: number; channels: number; blockAlign: number; bits: number },
): Promise<string | null> {
  const width = fmt.bits / 8;
  const pcm = fmt.tag === 1 && [1, 2, 3, 4].includes(width);
  const float = fmt.tag === 3 && (width === 4 || width === 8);
  if ((!pcm && !float) || fmt.blockAlign < width * fmt.channels) return null;
  const step = fmt.blockAlign;
  // At most SPANS evenly spread pieces of SPAN_BYTES are measured, so the cost stays under a
  // millisecond whatever the size: random bytes are random in every piece.
  const span = Math.floor(SPAN_BYTES / step) * step;
  const pieces = Math.min(SPANS, Math.ceil(length / span));
  const gap = pieces > 1 ? Math.floor((length - span) / (pieces - 1) / step) * step : 0;
  let sumAbs = 0;
  let sumDiff = 0;
  let count = 0;
  for (let piece = 0; piece < pieces; piece++) {
    const off = piece * gap;
    let prev: number | null = null;
    const b = await r.read(start + off, Math.min(span, length - off));
    const frames = Math.floor(b.length / step);
    if (pcm && width === 2 && step % 2 === 0 && LITTLE_ENDIAN) {
      // The common case, read through an Int16Array (about 10x faster than readInt16LE).
      const aligned = b.byteOffset % 2 === 0 ? b : Buffer.from(b);
      const v = new Int16Array(aligned.buffer, aligned.byteOffset, frames * (step / 2));
      const stride = step / 2;
      let last = (v[0] ?? 0) / 32768;
      for (let k = 0; k < v.length; k += stride) {
        const x = (v[k] as number) / 32768;
        sumAbs += Math.abs(x);
        sumDiff += Math.abs(x - last);
        last = x;
      }
      count += frames;
      continue;
    }
    for (let i = 0; i < frames * step; i += step) {
      let x: number;
      if (float) {
        x = width === 4 ? b.readFloatLE(i) : b.readDoubleLE(i);
        if (!Number.isFinite(x) || Math.abs(x) > 4) return `sample ${count} is not a sound level (${x})`;
      } else if (width === 1) x = ((b[i] as number) - 128) / 128;
      else if (width === 3) x = b.readIntLE(i, 3) / 8388608;
      else x = b.readInt32LE(i) / 2147483648;
      sumAbs += Math.abs(x);
      sumDiff += Math.abs(x - (prev ?? x));
      prev = x;
      count++;
    }
  }
  if (float || count < 1024) return null;
  const level = sumAbs / count;
  const roughness = sumDiff / count / Math.max(level, 1e-9);
  return level > 0.3 && roughness > 1.2
    ? 'the samples are random bytes, not sound (full-scale white noise)'
    : null;
}
