import { rmSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  buildBundle,
  buildWorker,
  bundleDir,
  type FuzzSummary,
  findings,
  isShortRead,
  type RunResult,
} from '../fuzz/harness.js';
import type { Outcome } from '../fuzz/protocol.js';

// A fixed-seed subset of the fuzz run (scripts/fuzz-audio.mjs runs the long one; test/fuzz/subset.ts
// is this one): every fixture and small hostile shape read as every content type, the hostile
// shapes at 64 KiB, and 2000 seeded mutations, each read in memory and spooled in a worker thread
// that is terminated after 3 s. Nothing may hang, kill the worker (256 MiB heap), throw anything
// but InvalidAudioError, answer differently for the two sources, or fail with a RangeError other
// than a read past a box cut short (which readAudioFacts turns into "corrupt: ..." by design).

const SEED = 20261201;
const MUTATIONS = 2000;
let dir: string;
beforeAll(() => {
  dir = bundleDir();
  buildWorker(dir);
  buildBundle(dir, 'subset');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the subset in a worker thread of its own (Jest's module sandbox makes building inputs slow). */
function runSubset(): Promise<FuzzSummary & { expected: number }> {
  const worker = new Worker(path.join(dir, 'subset.mjs'), {
    workerData: { workerFile: path.join(dir, 'fuzz-worker.mjs'), seed: SEED, mutations: MUTATIONS },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (summary) => {
      resolve(summary);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('audio readers under fuzzing (fixed seed)', () => {
  it(`survive every fixture and hostile shape as every type, and ${MUTATIONS} mutations`, async () => {
    const summary = await runSubset();
    const serious = summary.findings.filter((f) => !isShortRead(f));
    expect(serious.map((f) => `${f.key}: ${f.case}: ${f.detail}`)).toEqual([]);
    expect(summary.inputs).toBe(summary.expected);
    // Both sides of the line are exercised: real audio passes, broken files are refused.
    expect(summary.accepted).toBeGreaterThan(100);
    expect(summary.refused).toBeGreaterThan(1000);
  }, 120_000); // ~5 s; each hang found costs its 3 s watchdog, and they should all be listed
});

describe('the harness judges a run', () => {
  const c = { name: 'x', type: 'audio/ogg', bytes: Buffer.alloc(10) };
  const done = (
    bytes: Outcome,
    path: Outcome | null,
    rangeError?: { site: string; message: string; code: string },
  ) => ({ status: 'done', ms: 1, reply: { id: 0, bytes, path, blockMs: 0, rangeError } }) satisfies RunResult;
  const refused: Outcome = { kind: 'invalid', reason: 'no', ms: 1 };

  it('flags hangs, dead workers, other errors and a different answer for the two sources', () => {
    expect(findings(c, { status: 'timeout', ms: 3000 }).map((f) => f.kind)).toEqual(['hang']);
    expect(findings(c, { status: 'died', message: 'OOM', ms: 1 }).map((f) => f.kind)).toEqual(['died']);
    const crash: Outcome = {
      kind: 'error',
      name: 'TypeError',
      message: 'x is undefined',
      site: 'ogg.ts:1',
      ms: 1,
    };
    expect(findings(c, done(crash, refused)).map((f) => f.kind)).toEqual(['crash', 'mismatch']);
    expect(
      findings(c, done({ kind: 'ok', seconds: 2, ms: 1 }, { kind: 'ok', seconds: 2.5, ms: 1 })).map(
        (f) => f.kind,
      ),
    ).toEqual(['mismatch']);
    expect(findings(c, done(refused, refused))).toEqual([]);
  });

  it('tells a short Buffer read apart from other RangeErrors', () => {
    const short = {
      site: 'mp4.ts:113',
      code: 'ERR_OUT_OF_RANGE',
      message: 'The value of "offset" is out of range.',
    };
    const stack = { site: 'mp4.ts:240', code: '', message: 'Maximum call stack size exceeded' };
    const [a] = findings(c, done(refused, refused, short));
    const [b] = findings(c, done(refused, refused, stack));
    expect(a && isShortRead(a)).toBe(true);
    expect(b && isShortRead(b)).toBe(false);
  });
});
