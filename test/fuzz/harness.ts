// The audio readers' fuzz harness: runs each input in a worker thread it can terminate (a
// synchronous hang cannot be interrupted any other way), reads it held in memory and spooled to
// a file, and reports what must never happen: a hang, a dead worker (out of memory), an error
// that is not InvalidAudioError, a RangeError turned into a "corrupt: ..." refusal, a different
// answer for the two sources, or the event loop held for long. Used by test/unit/audio-fuzz.test.ts
// (a fixed-seed subset) and scripts/fuzz-audio.mjs (long runs, timing and memory).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as esbuild from 'esbuild';
import { BOMBS } from './bombs.js';
import { type FuzzCase, mutate, Rng, type Seed, seedOf, TYPES } from './mutate.js';
import type { Outcome, WorkerReply, WorkerRequest } from './protocol.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/audio');

const BY_EXTENSION: Record<string, string> = {
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.m4a': 'audio/mp4',
  '.mp4': 'audio/mp4',
  '.aac': 'audio/aac',
  '.ogg': 'audio/ogg',
  '.webm': 'audio/webm',
  '.flac': 'audio/flac',
};

/** Every audio fixture as a mutation seed. */
export function fixtureSeeds(): Seed[] {
  return readdirSync(FIXTURES)
    .filter((f) => BY_EXTENSION[path.extname(f)])
    .sort()
    .map((f) => seedOf(f, BY_EXTENSION[path.extname(f)] as string, readFileSync(path.join(FIXTURES, f))));
}

/** Every hostile shape, built small (`size` bytes), as a mutation seed: mutations reach deeper from there. */
export function bombSeeds(size: number): Seed[] {
  // Shapes that cannot be small (1 MiB Info elements, 1 MiB packets) would make every mutation slow.
  return BOMBS.map((b) => seedOf(`${b.name}(${size})`, b.type, b.build(size))).filter(
    (s) => s.bytes.length <= 16 * size,
  );
}

/**
 * A fresh folder for bundles, two levels below the root (in test-results/, which git ignores):
 * a bundle there finds node_modules, and the fixtures by its own import.meta.dirname.
 */
export function bundleDir(): string {
  const parent = path.join(ROOT, 'test-results');
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(path.join(parent, 'fuzz-'));
}

/** Bundles the worker (TypeScript, the readers included) into `dir`; returns its path. */
export function buildWorker(dir: string): string {
  return buildBundle(dir, 'fuzz-worker');
}

/** Bundles test/fuzz/<entry>.ts (packages left to node_modules) into `dir`; returns its path. */
export function buildBundle(dir: string, entry: string): string {
  const outfile = path.join(dir, `${entry}.mjs`);
  esbuild.buildSync({
    entryPoints: [path.join(ROOT, `test/fuzz/${entry}.ts`)],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return outfile;
}

/** What running one input came to. */
export type RunResult =
  | { status: 'done'; reply: WorkerReply; ms: number }
  | { status: 'timeout'; ms: number }
  | { status: 'died'; message: string; ms: number };

/**
 * One worker thread, replaced when it hangs or dies. The heap limit makes a reader that keeps
 * objects without bound die here (ERR_WORKER_OUT_OF_MEMORY) instead of taking the machine.
 */
export class Runner {
  private worker: Worker | null = null;
  private next = 0;
  /** Where the worker spools inputs; removed by close(). */
  private readonly spoolDir = mkdtempSync(path.join(os.tmpdir(), 'audio-fuzz-'));
  constructor(
    private readonly file: string,
    private readonly heapMb = 256,
  ) {}

  private spawn(): Worker {
    this.worker ??= new Worker(this.file, {
      workerData: { spoolDir: this.spoolDir },
      // Stack frames then name the TypeScript sources (the bundle carries an inline source map).
      execArgv: ['--enable-source-maps'],
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: 32 },
    });
    return this.worker;
  }

  /** Runs one input; after `timeoutMs` the worker is terminated and the input counts as a hang. */
  run(c: { type: string; bytes: Buffer }, timeoutMs: number, spool: boolean): Promise<RunResult> {
    const worker = this.spawn();
    const id = this.next++;
    const started = performance.now();
    const ms = () => performance.now() - started;
    return new Promise<RunResult>((resolve) => {
      const done = (r: RunResult, kill: boolean) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (kill) {
          this.worker = null;
          void worker.terminate();
        }
        resolve(r);
      };
      const onMessage = (reply: WorkerReply) => {
        if (reply.id === id) done({ status: 'done', reply, ms: ms() }, false);
      };
      const onError = (e: Error) =>
        done({ status: 'died', message: `${e.name}: ${e.message}`, ms: ms() }, true);
      const onExit = (code: number) => done({ status: 'died', message: `exit ${code}`, ms: ms() }, true);
      const timer = setTimeout(() => done({ status: 'timeout', ms: ms() }, true), timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      const bytes = new Uint8Array(c.bytes); // a copy, handed over
      const req: WorkerRequest = { id, type: c.type, bytes, spool };
      worker.postMessage(req, [bytes.buffer]);
    });
  }

  /** Ends the worker. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
    rmSync(this.spoolDir, { recursive: true, force: true });
  }
}

/**
 * A Buffer read past the end of a box or element that a corrupt file made too short: the
 * readers leave those to readAudioFacts, which turns them into "corrupt: ..." by design.
 */
export function isShortRead(f: Finding): boolean {
  return (
    f.kind === 'range-error' &&
    /^range-error (ERR_OUT_OF_RANGE \S+ The value of "offset"|ERR_BUFFER_OUT_OF_BOUNDS )/.test(f.key)
  );
}

/** Something that must not happen. */
export interface Finding {
  kind: 'hang' | 'died' | 'crash' | 'range-error' | 'mismatch' | 'blocked';
  /** Groups findings of one cause (kind, site, message). */
  key: string;
  case: string;
  type: string;
  size: number;
  detail: string;
}

const same = (a: Outcome, b: Outcome): boolean =>
  a.kind === b.kind &&
  (a.kind !== 'ok' || a.seconds === (b as typeof a).seconds) &&
  (a.kind !== 'invalid' || a.reason === (b as typeof a).reason);

const describe = (o: Outcome): string =>
  o.kind === 'ok'
    ? `${o.seconds} s`
    : o.kind === 'invalid'
      ? `refused (${o.reason})`
      : o.kind === 'error'
        ? `${o.name}: ${o.message} at ${o.site}`
        : 'aborted';

/** What is wrong with one input's run (nothing, usually). `blockLimitMs` 0: the event loop is not judged. */
export function findings(c: FuzzCase, r: RunResult, blockLimitMs = 0): Finding[] {
  const base = { case: c.name, type: c.type, size: c.bytes.length };
  if (r.status === 'timeout')
    return [{ ...base, kind: 'hang', key: `hang ${c.type}`, detail: `no answer in ${Math.round(r.ms)} ms` }];
  if (r.status === 'died')
    return [{ ...base, kind: 'died', key: `died ${c.type} ${r.message}`, detail: r.message }];
  const out: Finding[] = [];
  const { reply } = r;
  for (const o of [reply.bytes, reply.path]) {
    if (o?.kind === 'error')
      out.push({ ...base, kind: 'crash', key: `crash ${o.name} ${o.site}`, detail: describe(o) });
  }
  if (reply.rangeError) {
    const m = reply.rangeError.message.replace(/\d+/g, 'N');
    out.push({
      ...base,
      kind: 'range-error',
      key: `range-error ${reply.rangeError.code} ${reply.rangeError.site} ${m}`,
      detail: `${reply.rangeError.message} at ${reply.rangeError.site}`,
    });
  }
  if (reply.path && !same(reply.bytes, reply.path))
    out.push({
      ...base,
      kind: 'mismatch',
      key: `mismatch ${c.type}`,
      detail: `in memory: ${describe(reply.bytes)}; spooled: ${describe(reply.path)}`,
    });
  if (blockLimitMs > 0 && reply.blockMs > blockLimitMs)
    out.push({
      ...base,
      kind: 'blocked',
      key: `blocked ${c.type}`,
      detail: `event loop held ${Math.round(reply.blockMs)} ms`,
    });
  return out;
}

/** Every fixture read as every content type, unchanged: 12 files x 7 types. */
export function crossTypeCases(seeds: readonly Seed[]): FuzzCase[] {
  return seeds.flatMap((s) => TYPES.map((type) => ({ name: `${s.name}:as ${type}`, type, bytes: s.bytes })));
}

/** Every hostile shape at `size` bytes, also read as every other content type when `crossTypes`. */
export function bombCases(size: number, crossTypes = false): FuzzCase[] {
  return BOMBS.flatMap((b) => {
    const bytes = b.build(size);
    const types = crossTypes ? TYPES : [b.type];
    return types.map((type) => ({
      name: `${b.name}(${size})${type === b.type ? '' : `:as ${type}`}`,
      type,
      bytes,
    }));
  });
}

/** `count` mutations of the seeds, drawn from `seed`: the same numbers give the same inputs. */
export function* mutationCases(seeds: readonly Seed[], seed: number, count: number): Generator<FuzzCase> {
  const rng = new Rng(seed);
  for (let n = 0; n < count; n++) yield mutate(rng, rng.pick(seeds), seeds);
}

/** Options of a fuzz run. */
export interface FuzzOptions {
  workerFile: string;
  cases: Iterable<FuzzCase>;
  /** Per input; a read over this is a hang. */
  timeoutMs: number;
  /** Read every n-th input spooled to a file too (1: all). */
  spoolEvery?: number;
  /** Stop starting inputs after this time (ms since the start). */
  budgetMs?: number;
  /** Worker threads run side by side. */
  workers?: number;
  /** Report an event loop held longer than this (0: do not judge). */
  blockLimitMs?: number;
  onFinding?: (f: Finding, c: FuzzCase) => void;
}

/** What a fuzz run did and found. */
export interface FuzzSummary {
  inputs: number;
  accepted: number;
  refused: number;
  ms: number;
  findings: Finding[];
  /** The five inputs that took longest (wall ms of the whole run, both sources). */
  slowest: { name: string; size: number; ms: number }[];
}

/** Runs the inputs through workers, each under its timeout; returns every finding. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const runners = Array.from({ length: o.workers ?? 1 }, () => new Runner(o.workerFile));
  const all: Finding[] = [];
  let inputs = 0;
  let accepted = 0;
  let refused = 0;
  const slowest: FuzzSummary['slowest'] = [];
  const iterator = o.cases[Symbol.iterator]();
  const loop = async (runner: Runner) => {
    for (;;) {
      if (o.budgetMs !== undefined && performance.now() - started > o.budgetMs) return;
      const next = iterator.next();
      if (next.done) return;
      const c = next.value;
      const n = inputs++;
      const r = await runner.run(c, o.timeoutMs, n % (o.spoolEvery ?? 1) === 0);
      slowest.push({ name: c.name, size: c.bytes.length, ms: Math.round(r.ms) });
      slowest.sort((a, b) => b.ms - a.ms).splice(5);
      if (r.status === 'done') {
        if (r.reply.bytes.kind === 'ok') accepted++;
        else refused++;
      }
      for (const f of findings(c, r, o.blockLimitMs ?? 0)) {
        all.push(f);
        o.onFinding?.(f, c);
      }
    }
  };
  try {
    await Promise.all(runners.map(loop));
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
  return { inputs, accepted, refused, ms: performance.now() - started, findings: all, slowest };
}
