import type { ByteReader } from './byte-reader.js';
import { parseMpegHeader } from './codecs.js';
import { crc16 } from './crc.js';
import { audioEnd, skipId3v2 } from './id3.js';
import { fail } from './invalid-audio.js';
import { isZeros } from './zeros.js';

/** Side information bytes after the header (and CRC) of a Layer III frame (ISO 11172-3 §2.4.1.7). */
function sideInfoBytes(version: number, mono: boolean): number {
  return version === 1 ? (mono ? 17 : 32) : mono ? 9 : 17;
}

/**
 * MP3 (MPEG audio): the length is the frames really there, counted one by one (frames x samples
 * per frame / rate); no bitrate estimate, so a VBR file without a Xing header measures right.
 * Rules:
 * - after ID3v2 tags, frames must follow each other with no gap: each header valid and of the
 *   same version, layer and rate as the first; a Layer III CRC, when present, must match.
 *   Bytes that are not a frame, before the tags at the end (ID3v1, APE, Lyrics3) and zero
 *   padding, are junk or corruption;
 * - truncated: the last frame is cut (the file ends inside it), or a Xing/Info (or VBRI) header
 *   counts more frames than are there (LAME and ffmpeg count exactly; VBRI is allowed one more).
 * A Xing/Info or VBRI frame is a header, not audio: it is not counted.
 */
export async function mp3Seconds(r: ByteReader): Promise<number> {
  const start = await skipId3v2(r, 0);
  return mpegStreamSeconds(r, start, await audioEnd(r, start));
}

/**
 * The length of the MPEG audio frames in [start, end), by mp3Seconds' rules: the whole of an MP3
 * file's audio, or the data chunk of an MPEG-in-WAV, whose fmt chunk's byte rate writers leave 0.
 */
export async function mpegStreamSeconds(r: ByteReader, start: number, end: number): Promise<number> {
  let pos = start;
  let frames = 0;
  let declared: { frames: number; slack: number; what: string } | null = null;
  let first: { version: number; layer: number; sampleRate: number; samples: number } | null = null;
  while (pos < end) {
    const h = parseMpegHeader(r.view(pos, 4) ?? (await r.read(pos, 4)));
    if (!h) {
      const tag = await r.read(pos, 3);
      if (tag.toString('latin1') === 'ID3') {
        const after = await skipId3v2(r, pos); // tags between the frames of two joined files
        // A tag header cut short is skipped by nothing: without this the loop would never end.
        if (after === pos) fail(`unreadable data at byte ${pos} (after ${frames} frames)`);
        pos = after;
        continue;
      }
      if (frames > 0 && (await isZeros(r, pos, end))) break; // zero padding after the last frame
      fail(`unreadable data at byte ${pos} (after ${frames} frames)`);
    }
    if (
      first &&
      (h.version !== first.version || h.layer !== first.layer || h.sampleRate !== first.sampleRate)
    ) {
      fail(`frame ${frames + 1} at byte ${pos} does not match the stream (corrupt)`);
    }
    if (pos + h.length > end) fail(`truncated: the last frame is cut (${end - pos} of ${h.length} bytes)`);
    if (h.layer === 3 && (h.crc || !first)) {
      const side = sideInfoBytes(h.version, h.mono);
      const f = r.view(pos, 6 + side + 120) ?? (await r.read(pos, 6 + side + 120));
      if (h.crc) {
        const expected = f.readUInt16BE(4);
        const got = crc16(f.subarray(6, 6 + side), crc16(f.subarray(2, 4), 0xffff));
        if (got !== expected) fail(`frame ${frames + 1} at byte ${pos} fails its CRC (corrupt)`);
      }
      if (!first) {
        // The Xing/Info tag follows the side information; LAME places it there ignoring the CRC.
        const at = [4 + side, 6 + side].find((o) =>
          ['Xing', 'Info'].includes(f.toString('latin1', o, o + 4)),
        );
        if (at !== undefined && f.length >= at + 12) {
          const tag = f.toString('latin1', at, at + 4);
          if (f.readUInt32BE(at + 4) & 1)
            declared = { frames: f.readUInt32BE(at + 8), slack: 0, what: `${tag} header` };
          first = h;
          pos += h.length;
          continue;
        }
        if (f.toString('latin1', 36, 40) === 'VBRI' && f.length >= 54) {
          declared = { frames: f.readUInt32BE(50), slack: 1, what: 'VBRI header' };
          first = h;
          pos += h.length;
          continue;
        }
      }
    }
    first ??= h;
    frames++;
    pos += h.length;
  }
  if (first === null || frames === 0) fail('no MPEG audio frames');
  if (declared && declared.frames > frames + declared.slack) {
    fail(`truncated: ${declared.what} counts ${declared.frames} frames, ${frames} present`);
  }
  return (frames * first.samples) / first.sampleRate;
}
