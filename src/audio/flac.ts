import { type ByteReader, WINDOW_BYTES } from './byte-reader.js';
import { crc8, crc16 } from './crc.js';
import { audioEnd, skipId3v2 } from './id3.js';
import { checkSampleRate, fail } from './invalid-audio.js';

/** What frames are checked against: STREAMINFO (RFC 9639 §8.2). */
export interface StreamInfo {
  maxBlockSize: number;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 0 when the encoder did not know it. */
  totalSamples: number;
}

/** Parses the 34 bytes of a STREAMINFO block. */
export function parseStreamInfo(b: Uint8Array): StreamInfo | null {
  if (b.length < 34) return null;
  const v = Buffer.from(b.buffer, b.byteOffset, 34);
  const sampleRate = v.readUIntBE(10, 3) >> 4;
  const channels = (((v[12] as number) >> 1) & 7) + 1;
  const bitsPerSample = ((((v[12] as number) & 1) << 4) | ((v[13] as number) >> 4)) + 1;
  const totalSamples = ((v[13] as number) & 0xf) * 2 ** 32 + v.readUInt32BE(14);
  const maxBlockSize = v.readUInt16BE(2);
  return sampleRate > 0 && maxBlockSize >= 16
    ? { maxBlockSize, sampleRate, channels, bitsPerSample, totalSamples }
    : null;
}

/** A frame header (RFC 9639 §9.1): its block size, coded number, blocking, and byte length. */
export interface FlacFrameHeader {
  variable: boolean;
  number: number;
  blockSize: number;
  length: number;
}

const BLOCK_SIZES = [0, 192, 576, 1152, 2304, 4608, -8, -16, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

/**
 * The frame header at b[0..], or null when those bytes are not one agreeing with STREAMINFO:
 * sync, no reserved codes, the channel count of the stream, a well-formed coded number, a block
 * size within STREAMINFO's maximum, and a matching CRC-8.
 */
export function parseFlacFrameHeader(b: Uint8Array, info: StreamInfo): FlacFrameHeader | null {
  if (b.length < 6 || b[0] !== 0xff || ((b[1] as number) & 0xfe) !== 0xf8) return null;
  const variable = ((b[1] as number) & 1) === 1;
  const sizeCode = (b[2] as number) >> 4;
  const rateCode = (b[2] as number) & 0xf;
  const channelCode = (b[3] as number) >> 4;
  const depthCode = ((b[3] as number) >> 1) & 7;
  if (
    sizeCode === 0 ||
    rateCode === 15 ||
    channelCode > 10 ||
    depthCode === 3 ||
    ((b[3] as number) & 1) !== 0
  )
    return null;
  if ((channelCode < 8 ? channelCode + 1 : 2) !== info.channels) return null;
  let i = 4;
  const lead = b[i++] as number;
  let extra = 0;
  let number = lead;
  if (lead >= 0x80) {
    if (lead < 0xc0 || lead === 0xff) return null;
    extra = lead >= 0xfe ? 6 : lead >= 0xfc ? 5 : lead >= 0xf8 ? 4 : lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
    number = lead & (0x3f >> extra);
    for (let k = 0; k < extra; k++) {
      const c = b[i++];
      if (c === undefined || (c & 0xc0) !== 0x80) return null;
      number = number * 64 + (c & 0x3f);
    }
  }
  let blockSize = BLOCK_SIZES[sizeCode] as number;
  if (blockSize === -8) blockSize = (b[i++] ?? -1) + 1;
  else if (blockSize === -16) {
    blockSize = ((b[i] ?? 0) << 8) + (b[i + 1] ?? 0) + 1;
    i += 2;
  }
  // More samples than STREAMINFO's maximum is no frame of this stream (ffmpeg refuses it), and
  // would let a tiny frame of silence claim 65536 samples where the encoder wrote 4096.
  if (blockSize > info.maxBlockSize) return null;
  if (rateCode === 12) i += 1;
  else if (rateCode === 13 || rateCode === 14) i += 2;
  if (i >= b.length || crc8(b.subarray(0, i)) !== b[i]) return null;
  return { variable, number, blockSize, length: i + 1 };
}

/**
 * Native FLAC (RFC 9639): the length is the samples of the frames really there. A frame's end is
 * where the next frame header (with the next number) starts and the CRC-16 of the bytes between
 * checks out, so every frame is verified whole. Rules:
 * - truncated or corrupt: a frame whose CRC-16 never checks out (the file ends inside it, or
 *   its bytes were changed), a header or frame number out of sequence, no frame after the
 *   metadata;
 * - truncated: STREAMINFO's total samples (when the encoder knew it) exceed the frames' samples;
 * - tolerated: ID3v2 before `fLaC`, ID3v1/APE tags or zero padding after the last frame.
 */
export async function flacSeconds(r: ByteReader): Promise<number> {
  let pos = await skipId3v2(r, 0);
  if (!((await r.read(pos, 4)).toString('latin1') === 'fLaC')) fail('no fLaC marker');
  pos += 4;
  let info: StreamInfo | null = null;
  for (let last = false; !last; ) {
    const h = await r.read(pos, 4);
    if (h.length !== 4) fail('truncated: metadata cut short');
    last = ((h[0] as number) & 0x80) !== 0;
    const type = (h[0] as number) & 0x7f;
    const length = h.readUIntBE(1, 3);
    if (type === 127) fail(`invalid metadata block at byte ${pos}`);
    if (!(pos + 4 + length <= r.size))
      fail(`truncated: metadata block at byte ${pos} declares ${length} bytes`);
    if (info === null) {
      if (!(type === 0 && length === 34)) fail('no STREAMINFO block');
      info = parseStreamInfo(await r.read(pos + 4, 34));
      if (info === null) fail('invalid STREAMINFO block');
      checkSampleRate(info.sampleRate, 'STREAMINFO');
    }
    pos += 4 + length;
  }
  if (info === null) fail('no STREAMINFO block');
  const end = await audioEnd(r, pos);
  const samples = await scanFlacFrames(r, pos, end, info);
  if (!(info.totalSamples === 0 || info.totalSamples <= samples))
    fail(`truncated: STREAMINFO declares ${info.totalSamples} samples, ${samples} present`);
  return samples / info.sampleRate;
}

/**
 * Walks the frames in [start, end), verifying each; returns the samples they hold. Candidates
 * for the next frame are 0xFF bytes found by indexOf; the CRC-16 is carried forward over the
 * bytes up to each candidate whose header is valid and numbered next, so every byte is summed
 * once.
 */
async function scanFlacFrames(r: ByteReader, start: number, end: number, info: StreamInfo): Promise<number> {
  const head = parseFlacFrameHeader(await r.read(start, 16), info);
  if (head === null) fail(`no FLAC frame at byte ${start}`);
  // A frame is at most the verbatim size of its samples plus header and footer (RFC 9639 §9).
  const maxFrame = Math.ceil((info.maxBlockSize * info.channels * (info.bitsPerSample + 1)) / 8) + 64;
  let frame = head;
  let frameStart = start;
  let index = 0;
  let samples = 0;
  let crc = 0; // CRC-16 of [frameStart, crcAt)
  let crcAt = start;
  let mismatch = false; // a next header was found where this frame's CRC did not check out
  let q = start; // the window's start
  while (q < end) {
    const w = await r.read(q, Math.min(WINDOW_BYTES, end - q));
    if (w.length === 0) break; // the file shrank under us: the CRC check below refuses it
    let i = Math.max(crcAt, frameStart + frame.length + 2) - q;
    for (;;) {
      i = w.indexOf(0xff, i);
      if (i < 0) break;
      const at = q + i;
      if (i + 16 > w.length && at + 16 <= end) break; // read again from here so the header fits
      if (((w[i + 1] ?? 0) & 0xfe) === 0xf8) {
        const next = parseFlacFrameHeader(w.subarray(i, i + 16), info);
        const expected = frame.variable ? frame.number + frame.blockSize : frame.number + 1;
        if (next && next.variable === frame.variable && next.number === expected) {
          crc = crc16(w, crc, crcAt - q, i);
          crcAt = at;
          if (crc === 0) {
            samples += frame.blockSize;
            index++;
            frame = next;
            frameStart = at;
            mismatch = false;
          } else mismatch = true;
        }
      }
      if (!(at - frameStart <= maxFrame))
        fail(`frame ${index + 1} at byte ${frameStart} has no valid end (corrupt)`);
      i++;
    }
    // Carry the CRC to where the next window starts: the window's end, or the candidate to re-read.
    const stop = i < 0 ? w.length : i;
    crc = crc16(w, crc, crcAt - q, stop);
    crcAt = q + stop;
    q += stop;
    if (!(q - frameStart <= maxFrame || q >= end))
      fail(`frame ${index + 1} at byte ${frameStart} has no valid end (corrupt)`);
  }
  if (crc !== 0)
    fail(
      mismatch
        ? `frame ${index + 1} at byte ${frameStart} fails its CRC (corrupt)`
        : `truncated: frame ${index + 1} at byte ${frameStart} is cut short`,
    );
  return samples + frame.blockSize;
}

/** Checks one FLAC frame held whole (an Ogg FLAC packet); returns its header. */
export function checkFlacFrame(packet: Uint8Array, info: StreamInfo, where: string): FlacFrameHeader {
  const h = parseFlacFrameHeader(packet.subarray(0, 16), info);
  if (h === null) fail(`${where} is not a FLAC frame`);
  if (!(crc16(packet) === 0)) fail(`${where} fails its CRC (corrupt)`);
  return h;
}
