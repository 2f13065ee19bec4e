import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BOMBS } from '../fuzz/bombs.js';
import { buildWorker, bundleDir, Runner } from '../fuzz/harness.js';
import type { Outcome } from '../fuzz/protocol.js';
import { audio } from '../helpers/fixtures.js';

// Hostile inputs the fuzz harness (test/fuzz) found or was built to make: each read runs in a
// worker thread with a 64 MiB heap that is terminated after 10 s, because a reader that loops
// synchronously cannot be stopped from inside the test. The bound is a watchdog, not a timing
// claim: each of these ran for minutes (or for ever) before its fix, and takes milliseconds after.

let runner: Runner;
let dir: string;
beforeAll(() => {
  dir = bundleDir();
  runner = new Runner(buildWorker(dir), 64);
});
afterAll(async () => {
  await runner.close();
  rmSync(dir, { recursive: true, force: true });
});

const text = (o: Outcome): string =>
  o.kind === 'ok'
    ? `${o.seconds} s`
    : o.kind === 'invalid'
      ? o.reason
      : o.kind === 'error'
        ? `${o.name}: ${o.message}`
        : 'aborted';

/** The reader's answer for `bytes`, held in memory and spooled (which must agree), or why there is none. */
async function answer(bytes: Buffer, type: string): Promise<string> {
  const r = await runner.run({ type, bytes }, 10_000, true);
  if (r.status === 'timeout') return 'no answer within 10 s';
  if (r.status === 'died') return `the worker died: ${r.message}`;
  const inMemory = text(r.reply.bytes);
  const spooled = r.reply.path ? text(r.reply.path) : '';
  return inMemory === spooled ? inMemory : `in memory: ${inMemory}; spooled: ${spooled}`;
}

const bomb = (name: string, size: number): Buffer => {
  const b = BOMBS.find((x) => x.name === name);
  if (!b) throw new Error(`no bomb ${name}`);
  return b.build(size);
};

describe('hostile MP3', () => {
  it('refuses an ID3v2 header cut short after the frames (it looped for ever: the tag skip made no progress)', async () => {
    const mp3 = readFileSync(audio('sample.mp3'));
    const bytes = Buffer.concat([mp3, Buffer.from('ID3\x04\x00\x00', 'latin1')]);
    expect(await answer(bytes, 'audio/mpeg')).toBe(`unreadable data at byte ${mp3.length} (after 58 frames)`);
  });
});

describe('hostile MP4', () => {
  it('refuses track runs of 2^32 - 1 empty samples, without walking them (it looped for hours, then claimed 10,000 years)', async () => {
    // 75 runs, each of 2^32 - 1 samples of the default size 0 and duration 1024: no audio at all.
    expect(await answer(bomb('mp4-trun-empty-samples', 2000), 'audio/mp4')).toBe(
      'no audio data (every sample is empty)',
    );
  });

  it('counts no length for empty samples beside real ones (2^32 - 1 of them claimed 50,000 days)', async () => {
    expect(await answer(bomb('mp4-empty-run-after-real', 2000), 'audio/mp4')).toBe('10.24 s');
    // The same in a sample table: one real sample of 1 s and 2^18 empty ones of 1 s each.
    expect(await answer(bomb('mp4-empty-table-samples', 2000), 'audio/mp4')).toBe('1 s');
  });

  it('finds the mdat of each sample by bisection (65536 mdats x 131072 samples looped for minutes), then refuses the file: its samples are all empty', async () => {
    expect(await answer(bomb('mp4-empty-mdats', 1024 * 1024), 'audio/mp4')).toBe(
      'no audio data (every sample is empty)',
    );
  });

  it('refuses samples that overlap: more sample bytes than the mdats hold (chunks at one offset looped 2^32 times)', async () => {
    // 261,644 chunks, all at byte 1047057 (the body of a 1 KiB mdat), each of 1024 one-byte samples:
    // the first chunk fills the mdat, the second's first sample is one byte too many.
    expect(await answer(bomb('mp4-overlapping-chunks', 1024 * 1024), 'audio/mp4')).toBe(
      'sample 1025 at byte 1047057: the samples add up to more bytes than the media data holds (corrupt)',
    );
  });

  it('refuses a sample entry of wave boxes nested deeper than QuickTime writes them (the stack overflowed)', async () => {
    expect(await answer(bomb('mp4-deep-wave', 1024 * 1024), 'audio/mp4')).toBe(
      'sample entry nested too deep (corrupt)',
    );
  });

  it('refuses more than 131072 boxes at the top level (10 MiB of free boxes kept 140 MiB of heap)', async () => {
    expect(await answer(bomb('mp4-free-boxes', 10 * 1024 * 1024), 'audio/mp4')).toBe(
      'more than 131072 boxes at the top level (corrupt)',
    );
  });
});

describe('hostile Ogg', () => {
  it('refuses more than 1024 logical streams (38,800 streams of one empty page each in 1 MiB: quadratic time)', async () => {
    expect(await answer(bomb('ogg-many-streams', 1024 * 1024), 'audio/ogg')).toBe(
      'more than 1024 logical streams (corrupt)',
    );
  });

  it('refuses packets in progress on several streams that hold over 1 MiB together (each stream alone stayed under it)', async () => {
    // Three Opus streams, each with one packet continued page after page to 1,040,400 bytes.
    expect(await answer(bomb('ogg-huge-packets', 3 * 1024 * 1024), 'audio/ogg')).toBe(
      'packets in progress hold over 1 MiB (corrupt)',
    );
  });
});
