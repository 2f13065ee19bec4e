import type { ByteReader } from './byte-reader.js';
import { AAC_RATES, type AacConfig, aacFrameProblem } from './codecs.js';
import { audioEnd, skipId3v2 } from './id3.js';
import { fail } from './invalid-audio.js';
import { isZeros } from './zeros.js';

/**
 * AAC in ADTS (ISO 14496-3 §1.A.2): the length is the frames really there (1024 samples per
 * frame, one raw data block each; a frame that is only its header counts nothing). Rules, as for MP3: frames follow each other with no gap, each header valid and
 * of the same profile, rate and channels as the first, and each frame's first syntax elements
 * are AAC's (codecs.ts); the file may end with ID3v1/APE tags or zeros; a last frame cut short
 * is truncation. ADTS has no header that declares a length, so nothing else can promise more.
 */
export async function adtsSeconds(r: ByteReader): Promise<number> {
  const start = await skipId3v2(r, 0);
  const end = await audioEnd(r, start);
  let pos = start;
  let frames = 0;
  let blocks = 0;
  let first: { key: number; config: AacConfig } | null = null;
  while (pos < end) {
    const h = r.view(pos, 9) ?? (await r.read(pos, 9));
    const ok = h.length >= 7 && h[0] === 0xff && ((h[1] as number) & 0xf6) === 0xf0;
    if (!ok && frames > 0 && (await isZeros(r, pos, end))) break; // zero padding after the last frame
    if (!ok) fail(`unreadable data at byte ${pos} (after ${frames} frames)`);
    const profile = (h[2] as number) >> 6;
    const rateIndex = ((h[2] as number) >> 2) & 0xf;
    const channelConfig = (((h[2] as number) & 1) << 2) | ((h[3] as number) >> 6);
    const length = (((h[3] as number) & 3) << 11) | ((h[4] as number) << 3) | ((h[5] as number) >> 5);
    const rawBlocks = ((h[6] as number) & 3) + 1;
    const headerBytes = (h[1] as number) & 1 ? 7 : 9;
    if (!(rateIndex < 13 && length >= headerBytes))
      fail(`frame ${frames + 1} at byte ${pos} has an invalid header (corrupt)`);
    const key = (profile << 8) | (rateIndex << 4) | channelConfig;
    if (!(!first || key === first.key))
      fail(`frame ${frames + 1} at byte ${pos} does not match the stream (corrupt)`);
    if (!(pos + length <= end)) fail(`truncated: the last frame is cut (${end - pos} of ${length} bytes)`);
    first ??= {
      key,
      config: {
        objectType: profile + 1,
        rateIndex,
        sampleRate: AAC_RATES[rateIndex] as number,
        channelConfig,
      },
    };
    // Several raw data blocks in one frame are legal but no encoder writes them, and ffmpeg's
    // decoder refuses them: they could not be checked, and would count 4096 samples a header.
    if (rawBlocks > 1)
      fail(
        `frame ${frames + 1} at byte ${pos} holds ${rawBlocks} raw data blocks (only one is read; corrupt)`,
      );
    // A frame that is only its header carries no audio: it counts for nothing.
    const empty = length === headerBytes;
    if (!empty) {
      const at = r.span(pos + headerBytes, length - headerBytes);
      const frame = at >= 0 ? r.buffer : await r.read(pos + headerBytes, length - headerBytes);
      const s = Math.max(at, 0);
      const problem = aacFrameProblem(frame, first.config, s, s + length - headerBytes);
      if (problem !== null) fail(`frame ${frames + 1} at byte ${pos}: ${problem} (corrupt)`);
    }
    frames++;
    if (!empty) blocks++;
    pos += length;
  }
  if (first === null) fail('no ADTS frames');
  return (blocks * 1024) / first.config.sampleRate;
}
