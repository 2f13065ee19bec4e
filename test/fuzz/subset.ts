// The fixed-seed subset test/unit/audio-fuzz.test.ts runs, as a worker-thread entry (bundled by
// buildBundle): its inputs are made here, outside Jest's module sandbox, where building them
// takes a tenth of the time. Posts the run's FuzzSummary back.
import { parentPort, workerData } from 'node:worker_threads';
import { bombCases, bombSeeds, crossTypeCases, fixtureSeeds, mutationCases, runFuzz } from './harness.js';

const { workerFile, seed, mutations } = workerData as { workerFile: string; seed: number; mutations: number };
const seeds = [...fixtureSeeds(), ...bombSeeds(4096)];
const cases = [...crossTypeCases(seeds), ...bombCases(64 * 1024), ...mutationCases(seeds, seed, mutations)];
const summary = await runFuzz({ workerFile, cases, timeoutMs: 3000 });
parentPort?.postMessage({ ...summary, expected: cases.length });
