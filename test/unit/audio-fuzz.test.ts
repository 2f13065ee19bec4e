import { rmSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildBundle, buildWorker, bundleDir, type FuzzSummary, isShortRead } from '../fuzz/harness.js';

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
