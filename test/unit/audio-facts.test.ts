import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  type AudioSource,
  InvalidAudioError,
  invalidAudio,
  readAudioFacts,
} from '../../src/audio/audio-facts.js';
import {
  type AacConfig,
  aacConfigProblem,
  aacUnitMaxSeconds,
  ac3FramesSeconds,
  dtsFramesSeconds,
  mpegFramesSeconds,
  parseAc3Frame,
  parseAudioSpecificConfig,
  parseMpegHeader,
  truehdUnitsSeconds,
} from '../../src/audio/codecs.js';
import { crc32ogg } from '../../src/audio/crc.js';
import { ServiceError } from '../../src/errors.js';
import { BOMBS } from '../fuzz/bombs.js';
import { audio, tempDir } from '../helpers/kit.js';

const MP3 = 'audio/mpeg';
const WAV = 'audio/wav';
const MP4 = 'audio/mp4';
const AAC = 'audio/aac';
const OGG = 'audio/ogg';
const WEBM = 'audio/webm';
const FLAC = 'audio/flac';

/**
 * What ffprobe (Debian's ffmpeg 5.1) says each fixture lasts, by
 *   ffprobe -v error -show_entries format=duration -of csv=p=0 FILE
 * except where that is missing or a bitrate estimate; there the sum of the packets' durations,
 *   ffprobe -v error -select_streams a:0 -show_entries packet=duration_time -of csv=p=0 FILE | awk '{s+=$1} END {print s}'
 */
const FFPROBE: [file: string, type: string, seconds: number][] = [
  ['sample.wav', WAV, 2.0],
  ['sample.mp3', MP3, 2.088],
  ['sample.m4a', MP4, 2.0],
  ['sample.aac', AAC, 2.111864],
  ['sample.ogg', OGG, 2.0065],
  ['sample.webm', WEBM, 2.008],
  ['sample.flac', FLAC, 2.0],
  ['sample-crc.mp3', MP3, 2.088],
  // VBR MP3 in a WAV: ffmpeg writes its fmt chunk's byte rate as 0.
  ['sample-mp3-vbr.wav', WAV, 2.088],
  // Yamaha ADPCM in a WAV: ffmpeg writes its byte rate as 16000, four times the real one.
  ['sample-yamaha-adpcm.wav', WAV, 2.048],
  // format=duration says 4.916898: ffprobe estimates a Xing-less MP3 from its bitrate; the packets sum to 5.067668.
  ['sample-vbr-no-xing.mp3', MP3, 5.067668],
  // Chromium's Duration is its last block's timestamp (2.88); the packets sum to 2.94. Within 0.1 s either way.
  ['chromium-recording.webm', WEBM, 2.88],
  // format=duration is N/A (a timeslice recording has no Duration); the packets sum to 3.0.
  ['chromium-recording-timeslice.webm', WEBM, 3.0],
  ['chromium-recording.mp4', MP4, 2.961],
  // 32-bit float PCM; format=duration is 0.99 (the last block's timestamp); 100 packets of 10 ms.
  ['chromium-recording-pcm.webm', WEBM, 1.0],
  // FLAC in Matroska, read by the WebM reader (the same container).
  ['sample-flac.mka', WEBM, 2.0],
  ['sample-alac.m4a', MP4, 2.0],
  // QuickTime, read by the MP4 reader (the same boxes).
  ['sample-pcm.mov', MP4, 2.0],
  ['sample-in24.mov', MP4, 0.5],
  ['sample-ac3.mka', WEBM, 2.016],
  ['sample-eac3.mka', WEBM, 2.016],
  // FLAC, AC-3 and E-AC-3 in M4A (ffmpeg's mp4 muxer); the AC-3 edit list trims its 2.016 s.
  ['sample-flac.m4a', MP4, 2.0],
  ['sample-ac3.m4a', MP4, 2.011],
  ['sample-eac3.m4a', MP4, 2.011],
  // DTS (core frames) and TrueHD in Matroska; the DTS packets' own durations sum to 2.005.
  ['sample-dts.mka', WEBM, 2.006],
  ['sample-truehd.mka', WEBM, 1.0],
];

const bytesOf = (file: string): Buffer => readFileSync(audio(file));

/** Bytes of the MPEG audio frame at `at`, from its header (Layer III; ISO 11172-3 / 13818-3). */
function mpegFrameLength(b: Buffer, at: number): number {
  const header = parseMpegHeader(b.subarray(at, at + 4));
  if (header === null) throw new Error(`no MPEG frame at byte ${at}`);
  return header.length;
}
const facts = (bytes: Buffer, type: string) => readAudioFacts({ bytes }, type);

/** An EBML element: its id (hex), a 1- or 2-byte size, the data. */
function el(id: string, data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'hex') : data;
  const size = body.length < 127 ? [0x80 | body.length] : [0x40 | (body.length >> 8), body.length & 0xff];
  return Buffer.concat([Buffer.from(id, 'hex'), Buffer.from(size), body]);
}
const float = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return b;
};
/** A WebM of one audio track (number 1) with `codec` and more TrackEntry elements, then one cluster of `blocks`. */
const webmTrack = (codec: string, entry: Buffer[], blocks: Buffer[]) =>
  Buffer.concat([
    Buffer.from('1a45dfa3874282847765626d1853806701ffffffffffffff1549a966872ad7b1830f4240', 'hex'),
    el(
      '1654ae6b',
      el('ae', Buffer.concat([el('d7', '01'), el('83', '02'), el('86', Buffer.from(codec)), ...entry])),
    ),
    el('1f43b675', Buffer.concat([el('e7', '00'), ...blocks])),
  ]);

/** Makes an MP4's sample table (stts) state each sample 1000 times as long, with no edit list to trim it back. */
function stateEachSampleAThousandTimesLonger(bytes: Buffer): void {
  const stts = bytes.indexOf('stts') + 4;
  const entries = bytes.readUInt32BE(stts + 4);
  for (let k = 0; k < entries; k++) {
    const at = stts + 8 + 8 * k + 4;
    bytes.writeUInt32BE(bytes.readUInt32BE(at) * 1000, at);
  }
  const edts = bytes.indexOf('edts');
  if (edts >= 0) bytes.write('free', edts, 'latin1');
}

/** Deterministic "random" bytes (xorshift32), so a refusal never depends on the draw. */
function noise(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The reason a refusal gives (fails the test if the file is accepted or fails otherwise). */
async function refusal(bytes: Buffer, type: string): Promise<string> {
  const error = await facts(bytes, type).then(
    (f) => new Error(`accepted as ${f.seconds} s`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidAudioError);
  return (error as InvalidAudioError).reason;
}

/** The file's bytes through the first `frames` MP3 frames after its first frame at `start` (no gap). */
function mp3Frames(bytes: Buffer, start: number, frames: number): number {
  let pos = start;
  for (let n = 0; n < frames; n++) {
    const b2 = bytes[pos + 2] as number;
    // MPEG-2 Layer III at 16 kHz (the fixtures): 72 * bitrate / rate + padding.
    const kbps = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160][b2 >> 4] as number;
    pos += Math.floor((72 * kbps * 1000) / 16000) + ((b2 >> 1) & 1);
  }
  return pos;
}

describe('readAudioFacts: lengths', () => {
  it.each(FFPROBE)('%s lasts what ffprobe says, within 0.1 s', async (file, type, seconds) => {
    const got = await facts(bytesOf(file), type);
    expect(Math.abs(got.seconds - seconds)).toBeLessThanOrEqual(0.1);
    expect(got.seconds).toBe(Math.round(got.seconds * 1000) / 1000);
  });

  it.each(FFPROBE)('%s gives the same answer held in memory and spooled to a file', async (file, type) => {
    const bytes = bytesOf(file);
    const spooled: AudioSource = { path: audio(file) };
    expect(await readAudioFacts(spooled, type)).toEqual(await facts(bytes, type));
  });

  it('counts a VBR MP3 without a Xing header frame by frame (a first-frame bitrate estimate is far off)', async () => {
    const bytes = bytesOf('sample-vbr-no-xing.mp3');
    expect(bytes.includes('Xing')).toBe(false);
    expect(bytes.includes('Info')).toBe(false);
    // 22.05 kHz MPEG-2 Layer III: 576 samples a frame; the first frame's bitrate times the size is what an estimate uses.
    const kbps = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160][
      (bytes[2] as number) >> 4
    ] as number;
    const estimate = (bytes.length * 8) / (kbps * 1000);
    expect(Math.abs(estimate - 5.068)).toBeGreaterThan(1);
    expect((await facts(bytes, MP3)).seconds).toBeCloseTo(5.068, 2);
  });

  it('measures WebM blocks that lie before time zero by their own span, not from zero', async () => {
    // EBML header, Segment of unknown size, Info, Tracks (one Opus track), a Cluster at 0 with one
    // SimpleBlock at timecode -1000 (-1 s) holding a 20 ms Opus packet: the audio lasts 0.02 s.
    const bytes = Buffer.from(
      [
        '1a45dfa3874282847765626d',
        '1853806701ffffffffffffff',
        '1549a966872ad7b1830f4240',
        '1654ae6b90ae8ed781018381028686415f4f505553',
        '1f43b6758ce78100a38781fc1880f80102',
      ].join(''),
      'hex',
    );
    expect((await facts(bytes, WEBM)).seconds).toBe(0.02);
  });

  // A container's timing is a claim; the frames' own bytes say how long they can last (an Opus
  // packet and an MPEG frame exactly, an AAC unit at most 1024 samples): the length is held to it.
  it('holds an MP4 sample table that states an hour a frame to what its AAC frames can last', async () => {
    const bytes = Buffer.from(bytesOf('sample.m4a'));
    const stts = bytes.indexOf('stts') - 4;
    expect(bytes.readUInt32BE(stts + 12)).toBe(2); // two runs of sample durations
    for (const run of [0, 1]) {
      const delta = stts + 20 + 8 * run;
      bytes.writeUInt32BE(bytes.readUInt32BE(delta) * 3600, delta);
    }
    bytes.write('free', bytes.indexOf('edts'), 'latin1'); // no edit list to trim the claim either
    // 33 units of at most 1024 samples at 16 kHz (the priming untrimmed): 2.112 s, not 2 hours.
    expect(bytes.readUInt32BE(bytes.indexOf('stsz') + 12)).toBe(33);
    expect((await facts(bytes, MP4)).seconds).toBe(2.112);
  });

  it('holds MP4 fragments that state 1000 times their Opus packets to what the packets last', async () => {
    const bytes = Buffer.from(bytesOf('chromium-recording.mp4'));
    const trun = bytes.indexOf('trun') - 4;
    expect(bytes.readUInt32BE(trun + 8) & 0xffffff).toBe(0x301); // data offset, then duration and size per sample
    const count = bytes.readUInt32BE(trun + 12);
    for (let k = 0; k < count; k++) {
      const at = trun + 20 + 8 * k;
      bytes.writeUInt32BE(bytes.readUInt32BE(at) * 1000, at);
    }
    // 2961 s by the fragment; the 50 packets' own durations: what ffprobe's packets sum to, about 3 s.
    expect(Math.abs((await facts(bytes, MP4)).seconds - 2.961)).toBeLessThanOrEqual(0.1);
  });

  it('holds a PCM track in MP4 or QuickTime to what its bytes last, and refuses one whose layout is unknown', async () => {
    const bytes = Buffer.from(bytesOf('sample-pcm.mov'));
    const stts = bytes.indexOf('stts') + 4;
    expect(bytes.readUInt32BE(stts + 4)).toBe(1);
    bytes.writeUInt32BE(1000, stts + 12); // each 2-byte sample stated as 1000 ticks
    const edts = bytes.indexOf('edts');
    if (edts >= 0) bytes.write('free', edts, 'latin1');
    // 2000 s by the sample table; 32000 bytes of 16-bit mono at 8 kHz: 2 s.
    expect((await facts(bytes, MP4)).seconds).toBe(2);
    // A v1 sound description's bytesPerFrame of 1 where 24-bit mono needs 3 does not make the
    // bytes last three times as long.
    const in24 = Buffer.from(bytesOf('sample-in24.mov'));
    const entry24 = in24.indexOf('in24') + 4;
    expect([in24.readUInt16BE(entry24 + 8), in24.readUInt32BE(entry24 + 36)]).toEqual([1, 3]);
    in24.writeUInt32BE(1, entry24 + 36);
    stateEachSampleAThousandTimesLonger(in24);
    expect((await facts(in24, MP4)).seconds).toBe(0.5);
    // ISO's ipcm (AudioSampleEntryV1, 14496-12): no QuickTime fields after the 28 bytes, the
    // rate in an srat box (the entry's 16.16 field says 1 Hz), the sample size in pcmC.
    const mov = bytesOf('sample-pcm.mov');
    const sowt = mov.indexOf('sowt') - 4;
    const extra = Buffer.concat([
      Buffer.from('000000107372617400000000', 'hex'),
      Buffer.from([0, 0, 0x1f, 0x40]), // srat: 8000 Hz
      Buffer.from('0000000e70636d430000000001', 'hex'),
      Buffer.from([16]), // pcmC: little-endian, 16 bits
    ]);
    const entryEnd = sowt + mov.readUInt32BE(sowt);
    const ipcm = Buffer.concat([mov.subarray(0, entryEnd), extra, mov.subarray(entryEnd)]);
    // The boxes that hold the entry grow with it (the moov comes after the mdat: no offset moves).
    for (const type of ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'sowt']) {
      const at = ipcm.indexOf(type, ipcm.indexOf('moov') - 4) - 4;
      ipcm.writeUInt32BE(ipcm.readUInt32BE(at) + extra.length, at);
    }
    ipcm.write('ipcm', sowt + 4, 'latin1');
    ipcm.writeUInt16BE(1, sowt + 8 + 8); // entry version 1
    ipcm.writeUInt32BE(0x10000, sowt + 8 + 24); // 1 Hz in 16.16
    expect((await facts(ipcm, MP4)).seconds).toBe(2);
    const noLayout = Buffer.from(bytesOf('sample-pcm.mov'));
    const entry = noLayout.indexOf('sowt') + 4;
    noLayout.writeUInt16BE(0, entry + 16); // channels
    expect(await refusal(noLayout, MP4)).toBe('the PCM track states no channels or sample size (corrupt)');
  });

  it('holds an ALAC track to its frame length a sample (4096 at 16 kHz), and refuses one without its config', async () => {
    const bytes = Buffer.from(bytesOf('sample-alac.m4a'));
    stateEachSampleAThousandTimesLonger(bytes);
    // 2000 s by the sample table; 8 frames of at most 4096 samples at 16 kHz: 2.048 s.
    expect((await facts(bytes, MP4)).seconds).toBe(2.048);
    const noConfig = Buffer.from(bytesOf('sample-alac.m4a'));
    const config = noConfig.lastIndexOf('alac');
    noConfig.writeUInt32BE(0, config + 8); // frameLength
    expect(await refusal(noConfig, MP4)).toBe('the ALAC track has no valid ALACSpecificConfig (corrupt)');
    // A frame length of 2^32 - 1 would let each byte of a sample claim 74 hours.
    const huge = Buffer.from(bytesOf('sample-alac.m4a'));
    huge.writeUInt32BE(0xffffffff, huge.lastIndexOf('alac') + 8);
    expect(await refusal(huge, MP4)).toBe('the ALAC track has no valid ALACSpecificConfig (corrupt)');
  });

  it('holds a FLAC track in MP4 to its frames, and refuses a frame that fails its CRC or a track without its STREAMINFO', async () => {
    const bytes = Buffer.from(bytesOf('sample-flac.m4a'));
    stateEachSampleAThousandTimesLonger(bytes);
    // 2000 s by the sample table; the frames' block sizes: 32000 samples at 16 kHz.
    expect((await facts(bytes, MP4)).seconds).toBe(2);
    const flipped = Buffer.from(bytesOf('sample-flac.m4a'));
    const mdat = flipped.indexOf('mdat') + 4;
    expect(flipped.readUInt16BE(mdat) & 0xfffe).toBe(0xfff8); // the first frame's sync code
    flipped[mdat + 40] = (flipped[mdat + 40] as number) ^ 0xff;
    expect(await refusal(flipped, MP4)).toMatch(/^sample 1 at byte \d+ fails its CRC \(corrupt\)$/);
    const noInfo = Buffer.from(bytesOf('sample-flac.m4a'));
    noInfo.write('free', noInfo.indexOf('dfLa'), 'latin1');
    expect(await refusal(noInfo, MP4)).toBe('the FLAC track has no valid STREAMINFO (corrupt)');
  });

  it.each(['sample-ac3.m4a', 'sample-eac3.m4a'])(
    '%s: holds the sample table to what its AC-3 frames last, and refuses a sample that is not whole frames',
    async (file) => {
      const bytes = Buffer.from(bytesOf(file));
      stateEachSampleAThousandTimesLonger(bytes);
      // 2016 s by the sample table; 63 frames of 1536 samples at 48 kHz: 2.016 s.
      expect((await facts(bytes, MP4)).seconds).toBe(2.016);
      const broken = Buffer.from(bytesOf(file));
      const frame = broken.indexOf(Buffer.from('0b77', 'hex'), broken.indexOf('mdat'));
      broken[frame + 1] = 0x78;
      expect(await refusal(broken, MP4)).toMatch(
        /^sample 1 at byte \d+ is not whole AC-3 frames \(corrupt\)$/,
      );
    },
  );

  it('holds WebM timestamps with a gap, and a BlockDuration of an hour, to what the Opus packets last', async () => {
    const webm = (cluster: string) =>
      Buffer.from(
        [
          '1a45dfa3874282847765626d',
          '1853806701ffffffffffffff',
          '1549a966872ad7b1830f4240',
          '1654ae6b90ae8ed781018381028686415f4f505553',
          cluster,
        ].join(''),
        'hex',
      );
    // Two SimpleBlocks of one 20 ms packet each, at 0 and at 30 s: 30.02 s by their timestamps.
    const gap = webm('1f43b67595e78100a38781000080f80102a38781753080f80102');
    expect((await facts(gap, WEBM)).seconds).toBe(0.04);
    // One BlockGroup: a 20 ms packet whose BlockDuration says 3,600,000 ms.
    const stated = webm('1f43b67594e78100a08fa187810000' + '00f801029b840036ee80');
    expect((await facts(stated, WEBM)).seconds).toBe(0.02);
  });

  it('holds WebM PCM timestamps to what its bytes last, and counts the last block of PCM or FLAC (no DefaultDuration)', async () => {
    const webm = (audio: Buffer, blocks: Buffer[]) => webmTrack('A_PCM/INT/LIT', [el('e1', audio)], blocks);
    // 160 bytes of 16-bit mono at 8 kHz: 10 ms a block.
    const block = (ms: number) =>
      el('a3', Buffer.concat([Buffer.from([0x81, ms >> 8, ms & 0xff, 0x80]), Buffer.alloc(160, 1)]));
    const audio = Buffer.concat([el('b5', float(8000)), el('9f', '01'), el('6264', '10')]);
    // Two blocks at 0 and at 30 s: 30.01 s by their timestamps, 20 ms by their bytes.
    expect((await facts(webm(audio, [block(0), block(30000)]), WEBM)).seconds).toBe(0.02);
    expect((await facts(webm(audio, [block(0), block(10)]), WEBM)).seconds).toBe(0.02);
    const noDepth = Buffer.concat([el('b5', float(8000)), el('9f', '01')]);
    expect(await refusal(webm(noDepth, [block(0)]), WEBM)).toBe(
      'the PCM track states no channels or bit depth (corrupt)',
    );
    // Chromium's PCM recording and ffmpeg's FLAC in Matroska, blocks at the times they state.
    expect((await facts(bytesOf('chromium-recording-pcm.webm'), WEBM)).seconds).toBe(1);
    expect((await facts(bytesOf('sample-flac.mka'), WEBM)).seconds).toBe(2);
  });

  it('reads AC-3 half-rate streams at their rate, refuses E-AC-3 frames too small to be real, and times one programme', () => {
    const ac3 = bytesOf('sample-ac3.mka');
    const at = ac3.indexOf(Buffer.from('0b77', 'hex'), ac3.indexOf(Buffer.from('1f43b675', 'hex')));
    const frame = Buffer.from(ac3.subarray(at, at + (parseAc3Frame(ac3, at)?.length ?? 0)));
    expect(ac3FramesSeconds(frame, 0, frame.length)).toBe(1536 / 48000);
    frame[5] = (9 << 3) | ((frame[5] as number) & 7); // bsid 9: the half-rate stream
    expect(ac3FramesSeconds(frame, 0, frame.length)).toBe(1536 / 24000);
    // 6-byte E-AC-3 frames of 6 blocks at 16 kHz: 96 ms each, 500 bit/s.
    const tiny = Buffer.concat(Array.from({ length: 1000 }, () => Buffer.from('0b770002e080', 'hex')));
    expect(ac3FramesSeconds(tiny, 0, tiny.length)).toBeNull();
    const eac3 = bytesOf('sample-eac3.mka');
    const e = eac3.indexOf(Buffer.from('0b77', 'hex'), eac3.indexOf(Buffer.from('1f43b675', 'hex')));
    const one = Buffer.from(eac3.subarray(e, e + (parseAc3Frame(eac3, e)?.length ?? 0)));
    const other = Buffer.from(one);
    other[2] = (other[2] as number) | (1 << 3); // independent substream 1: another programme
    const both = Buffer.concat([one, other]);
    expect(ac3FramesSeconds(one, 0, one.length)).toBeGreaterThan(0);
    expect(ac3FramesSeconds(both, 0, both.length)).toBe(ac3FramesSeconds(one, 0, one.length));
  });

  it('counts an ADTS frame that is only its header as nothing, and refuses one claiming several raw data blocks', async () => {
    const aac = bytesOf('sample.aac');
    // 1000 frames of 7 bytes (a header with the stream's profile, rate and channels, no payload).
    const empty = Buffer.from(aac.subarray(0, 7));
    empty[3] = ((empty[3] as number) & 0xfc) | 0;
    empty[4] = 0;
    empty[5] = (7 << 5) | ((empty[5] as number) & 0x1f);
    expect(((empty[3] as number) & 3) * 2048 + (empty[4] as number) * 8 + ((empty[5] as number) >> 5)).toBe(
      7,
    );
    const padded = Buffer.concat([aac, ...Array.from({ length: 1000 }, () => empty)]);
    expect((await facts(padded, AAC)).seconds).toBe((await facts(aac, AAC)).seconds);
    expect(await refusal(Buffer.concat(Array.from({ length: 1000 }, () => empty)), AAC)).toBe(
      'no audio (length 0)',
    );
    const four = Buffer.from(aac);
    four[6] = ((four[6] as number) & 0xfc) | 3;
    expect(await refusal(four, AAC)).toBe(
      'frame 1 at byte 0 holds 4 raw data blocks (only one is read; corrupt)',
    );
  });

  it('reads MPEG-2 AAC in MP4 as AAC, and refuses an AAC track without its AudioSpecificConfig or of another object type', async () => {
    const m4a = bytesOf('sample.m4a');
    const oti = m4a.indexOf(Buffer.from('0480808017', 'hex'), m4a.indexOf('esds')) + 5;
    expect(m4a[oti]).toBe(0x40);
    const mpeg2 = Buffer.from(m4a);
    mpeg2[oti] = 0x67; // MPEG-2 AAC LC
    stateEachSampleAThousandTimesLonger(mpeg2);
    // 2000 s by the sample table; 33 units of at most 1024 samples at 16 kHz, no edit list to trim.
    expect((await facts(mpeg2, MP4)).seconds).toBe(2.112);
    const noDsi = Buffer.from(m4a);
    const dsi = noDsi.indexOf(Buffer.from('0580808005', 'hex'), oti);
    noDsi[dsi] = 0x06; // no DecoderSpecificInfo where it belongs
    expect(await refusal(noDsi, MP4)).toBe('the AAC track has no valid AudioSpecificConfig (corrupt)');
    const celp = Buffer.from(m4a);
    celp[dsi + 5] = (8 << 3) | ((celp[dsi + 5] as number) & 7); // object type 8 (CELP), the same rate
    expect(await refusal(celp, MP4)).toBe('MPEG-4 audio object type 8 is not AAC, nor read here');
    // AAC LC at an explicit 4000 Hz (rate index 15): no scalefactor band table to check frames by.
    const explicit = parseAudioSpecificConfig(Buffer.from([0x17, 0x80, 0x07, 0xd0, 0x08]));
    expect(explicit).toEqual({ objectType: 2, rateIndex: -1, sampleRate: 4000, channelConfig: 1 });
    expect(aacConfigProblem(explicit as AacConfig)).toBe(
      'the AAC track states an explicit rate (4000 Hz) instead of a rate index',
    );
  });

  it('refuses a WebM AAC track without a config, checks an old-style AAC id by its rate, and MPEG layer II blocks', async () => {
    // Xiph lacing of 256 one-byte frames: each would count 1024 samples at 7350 Hz unchecked.
    const laced = el(
      'a3',
      Buffer.concat([Buffer.from([0x81, 0, 0, 0x82, 255]), Buffer.alloc(255, 1), Buffer.alloc(256, 0x21)]),
    );
    expect(await refusal(webmTrack('A_AAC', [], [laced]), WEBM)).toBe(
      'the AAC track has no valid AudioSpecificConfig (corrupt)',
    );
    const at48k = el('e1', el('b5', float(48000)));
    expect(await refusal(webmTrack('A_AAC/MPEG4/LC', [at48k], [laced]), WEBM)).toMatch(
      /^corrupt block lacing|^block 1: AAC/,
    );
    // One 4-byte block, a Layer II header alone, stated (BlockDuration) as an hour.
    const header = Buffer.from([0xff, 0xfd, 0x18, 0xc0]);
    const hour = el(
      'a0',
      Buffer.concat([el('a1', Buffer.concat([Buffer.from([0x81, 0, 0, 0]), header])), el('9b', '0036ee80')]),
    );
    expect((await facts(webmTrack('A_MPEG/L2', [], [hour]), WEBM)).seconds).toBeLessThan(0.1);
    expect(
      await refusal(
        webmTrack('A_MPEG/L2', [], [el('a3', Buffer.from([0x81, 0, 0, 0x80, 1, 2, 3, 4]))]),
        WEBM,
      ),
    ).toBe('block 1 is not an MPEG audio frame (corrupt)');
  });

  it('counts an MPEG frame cut by its sample by its share of bytes, and holds FLAC and WAV PCM to their headers', async () => {
    // MPEG-2.5 Layer II at 8 kbit/s and 8 kHz: 144 bytes and 144 ms a frame; a 4-byte header alone.
    const header = Buffer.from([0xff, 0xe5, 0x18, 0xc0]);
    expect(parseMpegHeader(header)?.length).toBe(144);
    expect(mpegFramesSeconds(header)).toBeCloseTo((4 / 144) * 0.144, 6);
    // STREAMINFO's maximum block size below the frames' own: no frame of this stream.
    const flac = Buffer.from(bytesOf('sample.flac'));
    const info = flac.indexOf('fLaC') + 8;
    expect(flac.readUInt16BE(info + 2)).toBeGreaterThan(1024);
    flac.writeUInt16BE(1024, info + 2);
    expect(await refusal(flac, FLAC)).toMatch(/FLAC|frame/);
    // A fmt chunk's blockAlign of 1 for 16-bit mono does not double the length.
    const wav = Buffer.from(bytesOf('sample.wav'));
    const fmt = wav.indexOf('fmt ') + 8;
    expect([wav.readUInt16LE(fmt + 2), wav.readUInt16LE(fmt + 12), wav.readUInt16LE(fmt + 14)]).toEqual([
      1, 2, 16,
    ]);
    wav.writeUInt16LE(1, fmt + 12);
    expect((await facts(wav, WAV)).seconds).toBe(2);
  });

  it('counts DTS-HD extension substreams as no time of their own, and TrueHD units before any major sync as unknown', () => {
    const dts = bytesOf('sample-dts.mka');
    const core = dts.indexOf(Buffer.from('7ffe8001', 'hex'));
    const coreBytes = ((dts.readUInt32BE(core + 5) >>> 12) & 0x3fff) + 1; // FSIZE, bits 14–27 after the sync, + 1
    const frame = dts.subarray(core, core + coreBytes);
    // An extension substream of 64 bytes: sync, UserDefinedBits 0, index 0, narrow sizes
    // (header 16 bytes, frame 64 bytes), at bits 8, 10, 11 and 19 after the sync.
    const exss = Buffer.alloc(64);
    exss.writeUInt32BE(0x64582025, 0);
    exss.writeUIntBE((15 * 2 ** 29 + 63 * 2 ** 13) % 2 ** 48, 4, 6);
    const one = dtsFramesSeconds(frame, 0, frame.length);
    expect(one).toEqual({ seconds: 512 / 48000, cores: 1 });
    const hd = Buffer.concat([frame, exss]);
    expect(dtsFramesSeconds(hd, 0, hd.length)).toEqual(one);
    expect(dtsFramesSeconds(exss, 0, exss.length)).toEqual({ seconds: 0, cores: 0 });
    expect(dtsFramesSeconds(hd, 0, hd.length - 1)).toBeNull();
    const littleEndian = Buffer.from(frame);
    littleEndian.writeUInt32BE(0xfe7f0180, 0); // the 16-bit little-endian core's sync: not read
    expect(dtsFramesSeconds(littleEndian, 0, littleEndian.length)).toEqual({ seconds: 0, cores: 0 });

    const thd = bytesOf('sample-truehd.mka');
    const sync = thd.indexOf(Buffer.from('f8726fba', 'hex')) - 4;
    const first = thd.subarray(sync, sync + (thd.readUInt16BE(sync) & 0xfff) * 2);
    const plain = Buffer.from([0x00, 0x03, 0x00, 0x00, 0x00, 0x00]); // 3 words, no major sync
    expect(truehdUnitsSeconds(plain, 0, plain.length, null)).toEqual({
      seconds: 0,
      unitSeconds: null,
      unknown: 1,
    });
    const both = Buffer.concat([first, plain]);
    expect(truehdUnitsSeconds(both, 0, both.length, null)).toEqual({
      seconds: 80 / 48000,
      unitSeconds: 40 / 48000,
      unknown: 0,
    });
  });

  /** Breaks the first frame of a Matroska fixture's first block: its sync word, or its length. */
  const breakSync = (sync: string) => (b: Buffer, cluster: number) => {
    const at = b.indexOf(Buffer.from(sync, 'hex'), cluster);
    b[at + 1] = (b[at + 1] as number) ^ 0x01;
  };
  // A TrueHD access unit's length is the 12 bits before its major sync's 4 bytes of timing.
  const breakTrueHdLength = (b: Buffer, cluster: number) => {
    const at = b.indexOf(Buffer.from('f8726fba', 'hex'), cluster) - 4;
    b.writeUInt16BE(0xffff, at);
  };
  it.each([
    ['sample-ac3.mka', 2.016, breakSync('0b77'), 'AC-3 frames'],
    ['sample-eac3.mka', 2.016, breakSync('0b77'), 'AC-3 frames'],
    // 188 core frames of 512 samples at 48 kHz; ffprobe's format=duration says 2.006.
    ['sample-dts.mka', 2.005, breakSync('7ffe8001'), 'DTS frames'],
    // 1200 access units of 40 samples at 48 kHz.
    ['sample-truehd.mka', 1, breakTrueHdLength, 'TrueHD access units'],
  ] as const)(
    '%s: holds a gap in the timestamps to what its frames last (%s s), and refuses a block that is not whole frames',
    async (file, seconds, breakFirstFrame, frames) => {
      const bytes = Buffer.from(bytesOf(file));
      const cluster = bytes.lastIndexOf(Buffer.from('1f43b675', 'hex'));
      const sizeLength = Math.clz32(bytes[cluster + 4] as number) - 23; // an EBML vint's length
      // ffmpeg leads each cluster with a CRC-32 element (0xBF, 4 bytes), then the Timestamp.
      const timestamp = cluster + 4 + sizeLength + 6;
      expect([bytes[timestamp - 6], bytes[timestamp]]).toEqual([0xbf, 0xe7]);
      const width = (bytes[timestamp + 1] as number) & 0x7f;
      bytes.writeUIntBE(2 ** (8 * width) - 1, timestamp + 2, width); // the last cluster, minutes later
      expect((await facts(bytes, WEBM)).seconds).toBe(seconds);
      const broken = Buffer.from(bytesOf(file));
      breakFirstFrame(broken, broken.indexOf(Buffer.from('1f43b675', 'hex')));
      expect(await refusal(broken, WEBM)).toBe(`block 1 is not whole ${frames} (corrupt)`);
    },
  );

  it('checks each FLAC frame of a Matroska FLAC track against its STREAMINFO', async () => {
    const bytes = Buffer.from(bytesOf('sample-flac.mka'));
    const frame = bytes.indexOf(Buffer.from([0xff, 0xf8]), bytes.indexOf(Buffer.from('1f43b675', 'hex')));
    bytes[frame + 10] = (bytes[frame + 10] as number) ^ 0xff;
    expect(await refusal(bytes, WEBM)).toBe('block 1 fails its CRC (corrupt)');
    const noInfo = Buffer.from(bytesOf('sample-flac.mka'));
    noInfo.write('fLaX', noInfo.indexOf('fLaC'), 'latin1');
    expect(await refusal(noInfo, WEBM)).toBe('the FLAC track has no valid STREAMINFO (corrupt)');
  });

  it('holds WebM Vorbis timestamps to half a long block a packet (its identification header says how long)', async () => {
    const ident = Buffer.concat([
      Buffer.from('\x01vorbis', 'latin1'),
      Buffer.from('00000000' + '01' + '44ac0000', 'hex'), // version, mono, 44.1 kHz
      Buffer.alloc(12), // bitrates
      Buffer.from([0xb8, 0x01]), // blocks of 256 and 2048 samples, framing bit
    ]);
    const headers = [ident, Buffer.from('\x03vorbis', 'latin1'), Buffer.from('\x05vorbis', 'latin1')];
    const codecPrivate = Buffer.concat([Buffer.from([2, ident.length, 7]), ...headers]);
    const entry = Buffer.concat([
      Buffer.from('d781018381028688415f564f52424953', 'hex'), // track 1, audio, A_VORBIS
      Buffer.from([0x63, 0xa2, 0x80 | codecPrivate.length]),
      codecPrivate,
    ]);
    const tracks = Buffer.concat([Buffer.from([0xae, 0x80 | entry.length]), entry]);
    const bytes = Buffer.concat([
      Buffer.from('1a45dfa3874282847765626d1853806701ffffffffffffff1549a966872ad7b1830f4240', 'hex'),
      Buffer.from([0x16, 0x54, 0xae, 0x6b, 0x80 | tracks.length]),
      tracks,
      // Two one-byte audio packets, at 0 and at 30 s: at most 2 x 1024 samples, 0.046 s.
      Buffer.from('1f43b67591e78100a3858100008000a3858175308000', 'hex'),
    ]);
    expect((await facts(bytes, WEBM)).seconds).toBe(0.046);

    // A rate of 1 Hz would make each packet last 1024 s; no identification header, unbounded.
    const oneHertz = Buffer.from(bytes);
    oneHertz.writeUInt32LE(1, oneHertz.indexOf('\x01vorbis', 0, 'latin1') + 12);
    expect(await refusal(oneHertz, WEBM)).toBe(
      'the Vorbis track states a sample rate of 1 Hz, under 4000 Hz (corrupt)',
    );
    const noIdent = Buffer.from(bytes);
    noIdent.write('\x01vorbiz', noIdent.indexOf('\x01vorbis', 0, 'latin1'), 'latin1');
    expect(await refusal(noIdent, WEBM)).toBe(
      'the Vorbis track has no valid identification header (corrupt)',
    );
  });

  it('counts no time for empty AAC frames in WebM (one byte of fixed lacing makes 256 of them)', async () => {
    // An AAC LC track at 44.1 kHz (AudioSpecificConfig 1208) and two blocks 30 s apart, each
    // laced as 256 frames of 0 bytes: no audio, not 30 s (or 2 x 256 x 23 ms).
    const bytes = Buffer.from(
      '1a45dfa3874282847765626d1853806701ffffffffffffff1549a966872ad7b1830f4240' +
        '1654ae6b94ae92d78101838102' +
        `8685${Buffer.from('A_AAC', 'latin1').toString('hex')}` +
        '63a2821208' +
        '1f43b67591e78100a38581000084ffa38581753084ff',
      'hex',
    );
    expect(await refusal(bytes, WEBM)).toBe('no audio (length 0)');
  });

  it('refuses an MP4 AAC track whose AudioSpecificConfig cannot be read (it was left unchecked and unbounded)', async () => {
    const bytes = Buffer.from(bytesOf('sample.m4a'));
    const config = bytes.indexOf(Buffer.from('0580808005140856e5', 'hex')) + 5;
    bytes.writeUInt16BE(0x1688, config); // LC with sampling_frequency_index 13, which is reserved
    expect(await refusal(bytes, MP4)).toBe('the AAC track has no valid AudioSpecificConfig (corrupt)');
  });

  it('refuses a compressed WAV whose fmt chunk states what no coder writes (its length comes from it)', async () => {
    const wav = (fmt: Buffer, data = Buffer.alloc(1024, 0x11)) =>
      Buffer.concat([
        Buffer.from('RIFF'),
        Buffer.from(new Uint32Array([4 + 8 + fmt.length + 8 + data.length]).buffer),
        Buffer.from('WAVEfmt '),
        Buffer.from(new Uint32Array([fmt.length]).buffer),
        fmt,
        Buffer.from('data'),
        Buffer.from(new Uint32Array([data.length]).buffer),
        data,
      ]);
    const fmt = (
      tag: number,
      byteRate: number,
      blockAlign: number,
      bits: number,
      samplesPerBlock?: number,
    ) => {
      const f = Buffer.alloc(samplesPerBlock === undefined ? 16 : 20);
      f.writeUInt16LE(tag, 0);
      f.writeUInt16LE(1, 2); // mono
      f.writeUInt32LE(8000, 4);
      f.writeUInt32LE(byteRate, 8);
      f.writeUInt16LE(blockAlign, 12);
      f.writeUInt16LE(bits, 14);
      if (samplesPerBlock !== undefined) {
        f.writeUInt16LE(2, 16); // cbSize
        f.writeUInt16LE(samplesPerBlock, 18);
      }
      return f;
    };
    // IMA ADPCM: a 256-byte mono block holds 505 samples; 65535 would make 4 blocks last 33 s.
    expect((await facts(wav(fmt(0x11, 4055, 256, 4, 505)), WAV)).seconds).toBe(0.253);
    expect(await refusal(wav(fmt(0x11, 4055, 256, 4, 65535)), WAV)).toBe(
      'the fmt chunk states 65535 samples a block, more than its 256-byte blocks hold (corrupt)',
    );
    // Yamaha ADPCM and G.722 have 4 bits a sample: 1 KiB at 8 kHz mono is 0.256 s, whatever
    // byte rate is stated (ffmpeg states 16000 for both; 1 would be refused by the rule below).
    for (const tag of [0x20, 0x28f]) {
      expect((await facts(wav(fmt(tag, 16000, 1024, 4)), WAV)).seconds).toBe(0.256);
      expect((await facts(wav(fmt(tag, 1, 1024, 4)), WAV)).seconds).toBe(0.256);
    }
    // GSM 6.10 at 8 kHz is 1625 bytes a second; stated as 1, 1 KiB would last 17 minutes.
    expect((await facts(wav(fmt(0x31, 1625, 65, 0)), WAV)).seconds).toBe(0.63);
    expect(await refusal(wav(fmt(0x31, 1, 65, 0)), WAV)).toBe(
      'the fmt chunk states 1 bytes a second at 8000 Hz, under a quarter of a bit a sample (corrupt)',
    );
  });

  it('measures MPEG audio in a WAV by its frames, whatever byte rate the fmt chunk states, and refuses noise behind such a header', async () => {
    const wav = Buffer.from(bytesOf('sample-mp3-vbr.wav'));
    const fmt = wav.indexOf('fmt ');
    expect(wav.readUInt16LE(fmt + 8)).toBe(0x55); // WAVE_FORMAT_MPEGLAYER3
    expect(wav.readUInt32LE(fmt + 16)).toBe(0); // nAvgBytesPerSec, as ffmpeg leaves it for VBR
    // The byte rate is not what gives the length: a writer stating 1 byte a second changes nothing.
    wav.writeUInt32LE(1, fmt + 16);
    expect((await facts(wav, WAV)).seconds).toBe(2.088);
    const data = wav.indexOf('data') + 8;
    const noisy = Buffer.concat([wav.subarray(0, data), noise(wav.length - data)]);
    expect(await refusal(noisy, WAV)).toBe(`unreadable data at byte ${data} (after 0 frames)`);
    // Frames cut short at the data chunk's end: the last one is truncated.
    const cut = Buffer.from(wav.subarray(0, wav.length - 100));
    cut.writeUInt32LE(cut.length - data, data - 4);
    expect(await refusal(cut, WAV)).toMatch(/^truncated: the last frame is cut/);
  });

  it('refuses a WAV or FLAC that states a sample rate under 4000 Hz (1 Hz would make 2 s last 9 hours)', async () => {
    const wav = Buffer.from(bytesOf('sample.wav'));
    const fmt = wav.indexOf('fmt ');
    wav.writeUInt32LE(1, fmt + 12); // nSamplesPerSec
    wav.writeUInt32LE(2, fmt + 16); // nAvgBytesPerSec
    expect(await refusal(wav, WAV)).toBe(
      'the fmt chunk states a sample rate of 1 Hz, under 4000 Hz (corrupt)',
    );
    const flac = Buffer.from(bytesOf('sample.flac'));
    // STREAMINFO's 20-bit rate starts at byte 18 of the file (fLaC, the block header, 10 bytes in).
    flac.writeUIntBE((1 << 4) | (flac.readUIntBE(18, 3) & 0xf), 18, 3);
    expect(await refusal(flac, FLAC)).toBe(
      'STREAMINFO states a sample rate of 1 Hz, under 4000 Hz (corrupt)',
    );
  });

  it('counts every MPEG frame a Matroska block holds, so timestamps that are right are kept', async () => {
    // Two SimpleBlocks, at 0 and at 100 ms, each holding four MP3 frames (576 samples at 16 kHz,
    // 36 ms each): the timestamps say 0.1 s; counting one frame a block would say 0.072 s.
    const mp3 = bytesOf('sample.mp3');
    const frameBytes = (at: number) => mp3.subarray(at, at + mpegFrameLength(mp3, at));
    const frames: Buffer[] = [];
    for (let at = 225; frames.length < 8; at += frames.at(-1)?.length ?? 0) frames.push(frameBytes(at));
    const size = (n: number) =>
      Buffer.from([0x10 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    const block = (ms: number, payload: Buffer[]) => {
      const body = Buffer.concat([Buffer.from([0x81, ms >> 8, ms & 0xff, 0x80]), ...payload]);
      return Buffer.concat([Buffer.from([0xa3]), size(body.length), body]);
    };
    const cluster = Buffer.concat([
      Buffer.from('e78100', 'hex'),
      block(0, frames.slice(0, 4)),
      block(100, frames.slice(4)),
    ]);
    const bytes = Buffer.concat([
      Buffer.from(
        '1a45dfa3874282847765626d1853806701ffffffffffffff1549a966872ad7b1830f4240' +
          '1654ae6b93ae91d78101838102868941' +
          Buffer.from('_MPEG/L3', 'latin1').toString('hex'),
        'hex',
      ),
      Buffer.from('1f43b675', 'hex'),
      size(cluster.length),
      cluster,
    ]);
    expect((await facts(bytes, WEBM)).seconds).toBe(0.1);
  });

  it('measures a WebM recorded with a timeslice, which has no Duration and clusters of unknown size', async () => {
    const bytes = bytesOf('chromium-recording-timeslice.webm');
    const info = bytes.subarray(48, 48 + 5 + 25); // Info: TimestampScale, MuxingApp, WritingApp; no Duration
    expect(info.readUInt32BE(0)).toBe(0x1549a966);
    expect(info.includes(Buffer.from([0x44, 0x89]))).toBe(false);
    expect(bytes.subarray(146, 158).equals(Buffer.from('1f43b67501ffffffffffffff', 'hex'))).toBe(true);
    expect((await facts(bytes, WEBM)).seconds).toBeCloseTo(3.0, 1);
  });
});

describe('what a frame can last by its own bytes (the bound container timing is held to)', () => {
  const lc: AacConfig = { objectType: 2, rateIndex: 8, sampleRate: 16000, channelConfig: 1 };

  it('an AAC unit: 1024 samples (512 for LD and ELD, 4096 for USAC, 65536 for any other type)', () => {
    expect(aacUnitMaxSeconds(lc)).toBe(0.064);
    expect(aacUnitMaxSeconds({ ...lc, objectType: 23 })).toBe(0.032);
    expect(aacUnitMaxSeconds({ ...lc, objectType: 42 })).toBe(0.256);
    // ALS frames hold up to 65536 samples, the most any other type's unit can (DST: 1/75 s at 2.8 MHz).
    expect(aacUnitMaxSeconds({ ...lc, objectType: 36 })).toBe(4.096);
    expect(aacUnitMaxSeconds({ ...lc, objectType: 35 })).toBe(4.096);
  });

  it('MPEG frames laid end to end all count, and stray bytes after them count as one longest frame', () => {
    const mp3 = bytesOf('sample.mp3');
    const two = mp3.subarray(
      225,
      225 + mpegFrameLength(mp3, 225) + mpegFrameLength(mp3, 225 + mpegFrameLength(mp3, 225)),
    );
    expect(mpegFramesSeconds(two)).toBe(2 * (576 / 16000));
    // One stray byte no longer lifts the bound for the whole file (it did when it made the walk give up).
    expect(mpegFramesSeconds(Buffer.concat([two, Buffer.from([0])]))).toBeCloseTo(
      2 * (576 / 16000) + 1152 / 8000,
      9,
    );
  });
});

describe('readAudioFacts: truncated files', () => {
  it('refuses a WAV cut in half: its data chunk declares more than the file holds', async () => {
    const bytes = bytesOf('sample.wav');
    expect(await refusal(bytes.subarray(0, bytes.length / 2), WAV)).toBe(
      'truncated: data chunk declares 64000 bytes, 31961 present',
    );
  });

  it('refuses an MP3 cut in half: its last frame is cut', async () => {
    const bytes = bytesOf('sample.mp3');
    expect(await refusal(bytes.subarray(0, Math.floor(bytes.length / 2)), MP3)).toMatch(
      /^truncated: the last frame is cut/,
    );
  });

  it('refuses an MP3 cut between frames when its Info frame counts more frames than remain', async () => {
    const bytes = bytesOf('sample.mp3'); // ID3v2 (45 bytes), then the Info frame and 58 audio frames
    const cut = mp3Frames(bytes, 45, 1 + 30);
    expect(await refusal(bytes.subarray(0, cut), MP3)).toBe(
      'truncated: Info header counts 58 frames, 30 present',
    );
  });

  it('measures an MP3 without a Xing header cut between frames by the frames left (nothing promised more)', async () => {
    const whole = bytesOf('sample.mp3');
    // The same frames without their Info frame: ID3v2, then audio frames only.
    const start = mp3Frames(whole, 45, 1);
    const bytes = Buffer.concat([whole.subarray(0, 45), whole.subarray(start, mp3Frames(whole, 45, 1 + 30))]);
    expect((await facts(bytes, MP3)).seconds).toBe(1.08); // 30 frames of 576 samples at 16 kHz
  });

  it('refuses a FLAC cut anywhere: its last frame fails its CRC, or STREAMINFO counts more samples', async () => {
    const bytes = bytesOf('sample.flac');
    expect(await refusal(bytes.subarray(0, bytes.length / 2 + 1), FLAC)).toMatch(
      /^truncated: frame \d+ at byte \d+ is cut short/,
    );
    // Cut exactly where a frame starts (its sync code and the next frame number): the frames left are whole.
    const frame10 = bytes.indexOf(Buffer.from([0xff, 0xf8, 0x35, 0x08, 0x0a])); // frame number 10
    expect(frame10).toBe(19878);
    expect(await refusal(bytes.subarray(0, frame10), FLAC)).toBe(
      'truncated: STREAMINFO declares 32000 samples, 11520 present',
    );
  });

  it('refuses an MP4 whose sample table points past the end of the file', async () => {
    const bytes = bytesOf('chromium-recording.mp4'); // moov and moof first, then the mdat
    expect(await refusal(bytes.subarray(0, bytes.length / 2), MP4)).toMatch(
      /^truncated: sample \d+ of 50 lies past the end of the file/,
    );
  });

  it('refuses an M4A cut before its moov (written last)', async () => {
    const bytes = bytesOf('sample.m4a');
    expect(await refusal(bytes.subarray(0, bytes.length - 100), MP4)).toBe(
      'truncated: moov box declares 895 bytes, 795 present',
    );
    expect(await refusal(bytes.subarray(0, 6000), MP4)).toBe('truncated or incomplete: no moov box');
  });

  it('refuses an Ogg whose last page is cut, and measures one cut between pages by the pages left', async () => {
    const bytes = bytesOf('sample.ogg');
    expect(await refusal(bytes.subarray(0, bytes.length - 10), OGG)).toMatch(
      /^truncated: the last page is cut/,
    );
    // Pages at 0 (OpusHead), 47 (OpusTags), 137, 2915 and 5836: cut where the fourth begins.
    const seconds = (await facts(bytes.subarray(0, bytes.indexOf('OggS', 138)), OGG)).seconds;
    expect(seconds).toBeGreaterThan(0.5);
    expect(seconds).toBeLessThan(1.5);
  });

  it('refuses an Ogg whose granule positions declare more samples than its packets hold', async () => {
    const bytes = Buffer.from(bytesOf('sample.ogg'));
    const lastPage = bytes.lastIndexOf('OggS');
    bytes.writeUInt32LE(bytes.readUInt32LE(lastPage + 6) + 48000, lastPage + 6); // one second more
    bytes.writeUInt32LE(0, lastPage + 22);
    bytes.writeUInt32LE(crc32ogg(bytes.subarray(lastPage)), lastPage + 22);
    expect(await refusal(bytes, OGG)).toBe('truncated: pages declare 144312 samples, the packets hold 96960');
  });

  it('refuses WebM cut mid-file, with and without known element sizes', async () => {
    const known = bytesOf('chromium-recording.webm');
    expect(await refusal(known.subarray(0, known.length / 2), WEBM)).toMatch(
      /^truncated: the Segment declares/,
    );
    const streamed = bytesOf('chromium-recording-timeslice.webm');
    expect(await refusal(streamed.subarray(0, streamed.length / 2), WEBM)).toMatch(
      /^truncated: element at byte \d+ declares/,
    );
  });

  it('measures a timeslice WebM cut between clusters by the blocks left (no size or Duration promised more)', async () => {
    const bytes = bytesOf('chromium-recording-timeslice.webm');
    const lastCluster = bytes.lastIndexOf(Buffer.from('1f43b675', 'hex'));
    const seconds = (await facts(bytes.subarray(0, lastCluster), WEBM)).seconds;
    expect(seconds).toBeGreaterThan(1.5);
    expect(seconds).toBeLessThan(3);
  });

  it('refuses a WebM whose Duration reaches past its last block', async () => {
    const bytes = Buffer.from(bytesOf('sample.webm'));
    expect(bytes.subarray(253, 256).equals(Buffer.from('448988', 'hex'))).toBe(true); // Duration, an 8-byte float
    bytes.writeDoubleBE(5000, 256); // milliseconds (TimestampScale 1e6)
    expect(await refusal(bytes, WEBM)).toBe(
      'truncated: Duration declares 5.000 s, the blocks end at 2.021 s',
    );
  });

  it('refuses an ADTS stream whose last frame is cut', async () => {
    const bytes = bytesOf('sample.aac');
    expect(await refusal(bytes.subarray(0, bytes.length - 100), AAC)).toMatch(
      /^truncated: the last frame is cut/,
    );
  });
});

/**
 * Each fixture's header, whole, followed by random bytes to its original length: what a broken
 * copy or a crashed writer leaves. [file, type, header bytes, what those bytes are, check].
 */
const HEADERS: [string, string, number, string, (b: Buffer) => boolean][] = [
  [
    'sample.wav',
    WAV,
    78,
    'RIFF, fmt, LIST and the data chunk header',
    (b) => b.toString('latin1', 70, 74) === 'data',
  ],
  ['sample.mp3', MP3, 225, 'ID3v2 and the Info frame', (b) => b.readUInt16BE(225) === 0xfff3],
  ['sample.aac', AAC, 316, 'the first ADTS frame', (b) => b.readUInt16BE(316) === 0xfff1],
  [
    'sample.flac',
    FLAC,
    8288,
    'fLaC, STREAMINFO and the other metadata',
    (b) => b.readUInt16BE(8288) === 0xfff8,
  ],
  [
    'sample.ogg',
    OGG,
    137,
    'the OpusHead and OpusTags pages',
    (b) => b.toString('latin1', 137, 141) === 'OggS',
  ],
  [
    'sample.webm',
    WEBM,
    501,
    'EBML header, SeekHead, Info, Tracks',
    (b) => b.readUInt32BE(501) === 0x1f43b675,
  ],
  [
    'chromium-recording-timeslice.webm',
    WEBM,
    146,
    'EBML header, Info, Tracks',
    (b) => b.readUInt32BE(146) === 0x1f43b675,
  ],
  [
    'sample.m4a',
    MP4,
    44,
    'ftyp and the mdat header (moov comes last)',
    (b) => b.toString('latin1', 40, 44) === 'mdat',
  ],
  [
    'chromium-recording.mp4',
    MP4,
    1141,
    'ftyp, moov, moof: a whole sample table',
    (b) => b.toString('latin1', 1137, 1141) === 'mdat',
  ],
];

describe('readAudioFacts: a valid header followed by random bytes', () => {
  it.each(HEADERS)('%s: refused after its header (%s)', async (file, type, header, _what, isHeader) => {
    const bytes = bytesOf(file);
    expect(isHeader(bytes)).toBe(true);
    const junk = Buffer.concat([bytes.subarray(0, header), noise(bytes.length - header)]);
    await refusal(junk, type);
  });

  it.each([MP3, WAV, MP4, AAC, OGG, WEBM, FLAC])('random bytes as %s are refused', async (type) => {
    await refusal(noise(64000, 12345), type);
  });

  it('refuses a WAV whose samples are random bytes, with the reason', async () => {
    const bytes = bytesOf('sample.wav');
    expect(await refusal(Buffer.concat([bytes.subarray(0, 78), noise(64000)]), WAV)).toBe(
      'the samples are random bytes, not sound (full-scale white noise)',
    );
  });

  it('refuses an MP4 whose sample table is whole but whose AAC frames are random', async () => {
    // sample.m4a's frames replaced by random bytes in place (its moov, at the end, stays valid).
    const bytes = Buffer.from(bytesOf('sample.m4a'));
    noise(12004 - 44).copy(bytes, 44);
    expect(await refusal(bytes, MP4)).toMatch(/^sample 1 at byte 44: AAC frame/);
  });
});

describe('readAudioFacts: corrupt frames', () => {
  const overwrite = (file: string, at: number, length = 256): Buffer => {
    const bytes = Buffer.from(bytesOf(file));
    noise(length, 777).copy(bytes, at);
    return bytes;
  };

  it('refuses a FLAC with changed bytes in a frame (CRC-16), without scanning past its longest frame', async () => {
    expect(await refusal(overwrite('sample.flac', 30000), FLAC)).toMatch(
      /^frame \d+ at byte \d+ has no valid end \(corrupt\)$/,
    );
  });

  it('refuses an Ogg with changed bytes in a page (CRC-32)', async () => {
    expect(await refusal(overwrite('sample.ogg', 3000, 16), OGG)).toMatch(
      /^page \d+ at byte \d+ fails its CRC/,
    );
  });

  it('refuses an Ogg page whose CRC checks out but whose packet is no Opus packet', async () => {
    const bytes = Buffer.from(bytesOf('sample.ogg'));
    // The first audio page (at 137, 50 segments) starts with packet TOC 0x48; made code 3 with 0 frames.
    expect(bytes[137 + 26]).toBe(50);
    expect(bytes[137 + 27 + 50]).toBe(0x48);
    bytes[137 + 27 + 50] = 0x4b;
    bytes[137 + 27 + 51] = 0x00;
    bytes.writeUInt32LE(0, 137 + 22);
    bytes.writeUInt32LE(crc32ogg(bytes.subarray(137, 2915)), 137 + 22);
    expect(await refusal(bytes, OGG)).toMatch(/^packet 3 of stream \d+ is not an Opus packet \(corrupt\)$/);
  });

  it('refuses bytes after the last Ogg page', async () => {
    expect(await refusal(Buffer.concat([bytesOf('sample.ogg'), noise(100)]), OGG)).toBe(
      'unreadable data at byte 5903 (after 5 pages)',
    );
  });

  it('refuses an ADTS frame whose payload is no AAC frame', async () => {
    const bytes = Buffer.from(bytesOf('sample.aac'));
    expect(bytes.readUInt16BE(316)).toBe(0xfff1); // frame 2, header without CRC: its payload starts at 323
    bytes[323] = 0xe0; // an END element first: a frame with no channel
    expect(await refusal(bytes, AAC)).toBe(
      'frame 2 at byte 316: AAC frame with no channel element (corrupt)',
    );
  });

  it('refuses WebM with bytes that are no element inside a cluster', async () => {
    const bytes = Buffer.from(bytesOf('chromium-recording-timeslice.webm'));
    bytes[161] = 0x00; // where the first SimpleBlock's ID was
    expect(await refusal(bytes, WEBM)).toBe('unreadable data at byte 161 in the Cluster');
  });

  it('refuses WebM whose blocks overrun their cluster', async () => {
    const bytes = Buffer.from(bytesOf('chromium-recording.webm'));
    expect(bytes.subarray(263, 275).equals(Buffer.from('1f43b6750100000000009b66', 'hex'))).toBe(true);
    bytes.writeUInt16BE(0x0010, 273); // the cluster now declares 16 bytes: its first block overruns it
    expect(await refusal(bytes, WEBM)).toBe('element at byte 278 overruns the Cluster (corrupt)');
  });

  it('refuses an MP3 whose frame chain breaks', async () => {
    expect(await refusal(overwrite('sample.mp3', 4000), MP3)).toMatch(/^unreadable data at byte/);
  });

  it("refuses an MP3 frame whose side information no longer matches the frame's CRC-16", async () => {
    const bytes = Buffer.from(bytesOf('sample-crc.mp3'));
    let frame = 0;
    for (let n = 0; n < 10; n++) frame = bytes.indexOf(Buffer.from([0xff, 0xf2]), frame + 1);
    bytes[frame + 8] = (bytes[frame + 8] as number) ^ 0x10; // one bit of the side information
    expect(await refusal(bytes, MP3)).toBe(`frame 10 at byte ${frame} fails its CRC (corrupt)`); // the Info frame is not counted
  });

  it('refuses WebM blocks that are not Opus packets', async () => {
    const bytes = Buffer.from(bytesOf('chromium-recording-timeslice.webm'));
    // The first SimpleBlock (a3, size 12, track 1, timecode 0, flags 80) holds a code 3 Opus packet (fb 03 ...):
    // its frame count made 0, which no Opus packet may have.
    expect(bytes.subarray(161, 169).equals(Buffer.from('a38c81000080fb03', 'hex'))).toBe(true);
    bytes[168] = 0x00;
    expect(await refusal(bytes, WEBM)).toBe('block 1 is not an Opus packet (corrupt)');
  });
});

describe('readAudioFacts: real files with harmless oddities pass', () => {
  it("accepts a WAV with a streaming writer's placeholder sizes, its data running to the end", async () => {
    const bytes = Buffer.from(bytesOf('sample.wav'));
    bytes.writeUInt32LE(0xffffffff, 4);
    bytes.writeUInt32LE(0xffffffff, 74);
    expect((await facts(bytes, WAV)).seconds).toBe(2);
    bytes.writeUInt32LE(0, 74);
    expect((await facts(bytes.subarray(0, 78 + 16000), WAV)).seconds).toBe(0.5);
  });

  it('accepts a WAV followed by a metadata chunk and zero padding', async () => {
    const list = Buffer.concat([
      Buffer.from('LIST'),
      Buffer.from([10, 0, 0, 0]),
      Buffer.from('INFOISFT\0\0'),
      Buffer.alloc(7),
    ]);
    expect((await facts(Buffer.concat([bytesOf('sample.wav'), list]), WAV)).seconds).toBe(2);
  });

  it('refuses junk after the WAV data chunk, after zero padding, or too short to be a chunk', async () => {
    const wav = bytesOf('sample.wav');
    expect(await refusal(Buffer.concat([wav, noise(200)]), WAV)).toBe(
      'unreadable data at byte 64078, after the audio',
    );
    expect(await refusal(Buffer.concat([wav, Buffer.alloc(8), noise(200)]), WAV)).toBe(
      'unreadable data at byte 64078, after the audio',
    );
    expect(await refusal(Buffer.concat([wav, noise(5)]), WAV)).toBe(
      'unreadable data at byte 64078, after the audio',
    );
  });

  it('accepts an MP3 with an ID3v1 tag appended, and one with zero padding', async () => {
    const tag = Buffer.concat([Buffer.from('TAG'), Buffer.alloc(125, 0x20)]);
    expect((await facts(Buffer.concat([bytesOf('sample.mp3'), tag]), MP3)).seconds).toBe(2.088);
    expect((await facts(Buffer.concat([bytesOf('sample.mp3'), Buffer.alloc(512)]), MP3)).seconds).toBe(2.088);
  });

  it('accepts FLAC, Ogg and ADTS with zero padding at the end', async () => {
    expect((await facts(Buffer.concat([bytesOf('sample.flac'), Buffer.alloc(100)]), FLAC)).seconds).toBe(2);
    expect((await facts(Buffer.concat([bytesOf('sample.ogg'), Buffer.alloc(100)]), OGG)).seconds).toBe(2);
    expect((await facts(Buffer.concat([bytesOf('sample.aac'), Buffer.alloc(100)]), AAC)).seconds).toBe(2.112);
  });

  it('accepts an Ogg stream that lacks its end-of-stream flag (a recorder stopped without closing it)', async () => {
    const bytes = Buffer.from(bytesOf('sample.ogg'));
    const lastPage = bytes.lastIndexOf('OggS');
    bytes[lastPage + 5] = (bytes[lastPage + 5] as number) & ~4;
    bytes.writeUInt32LE(0, lastPage + 22);
    bytes.writeUInt32LE(crc32ogg(bytes.subarray(lastPage)), lastPage + 22);
    expect((await facts(bytes, OGG)).seconds).toBe(2);
  });
});

describe('readAudioFacts: its interface', () => {
  it('stops with an AbortError when its signal is aborted', async () => {
    const error = await readAudioFacts({ bytes: bytesOf('sample.wav') }, WAV, {
      signal: AbortSignal.abort(),
    }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
  });

  it('refuses an empty file and a content type it has no reader for', async () => {
    expect(await refusal(Buffer.alloc(0), WAV)).toBe('empty file');
    expect(await refusal(bytesOf('sample.wav'), 'audio/x-unknown')).toBe('no reader for audio/x-unknown');
  });

  it('reads a spooled file through its path', async () => {
    const file = path.join(tempDir(), 'upload.bin');
    writeFileSync(file, bytesOf('sample.flac'));
    expect(await readAudioFacts({ path: file }, FLAC)).toEqual({ seconds: 2 });
  });

  it('names the file in the invalid_audio error the route answers with', () => {
    const e = invalidAudio(
      'my "take" 2.wav',
      new InvalidAudioError('truncated: data chunk declares 64000 bytes, 31961 present'),
    );
    expect(e).toBeInstanceOf(ServiceError);
    expect(e.code).toBe('invalid_audio');
    expect(e.details).toEqual({ filename: 'my "take" 2.wav' });
    expect(e.message).toBe(
      '"my "take" 2.wav" could not be read as audio (truncated: data chunk declares 64000 bytes, 31961 present).',
    );
  });
});

describe('readAudioFacts: the event loop keeps its turns', () => {
  it('an MP4 of millions of samples of a codec that is not checked still yields to other work', async () => {
    // 4 MiB of 1-byte samples: walked, not read, so only the walk itself can give turns.
    const bytes = BOMBS.find((b) => b.name === 'mp4-tiny-samples')?.build(4 * 1024 * 1024) as Buffer;
    let turns = 0;
    let reading = true;
    const tick = () => {
      turns++;
      if (reading) setImmediate(tick);
    };
    setImmediate(tick);
    const read = await readAudioFacts({ bytes }, 'audio/mp4').finally(() => {
      reading = false;
    });
    expect(read.seconds).toBeGreaterThan(0);
    // One turn per 512 KiB walked at least: about 8 here; none when the walk ran in one go.
    expect(turns).toBeGreaterThanOrEqual(4);
  });
});
