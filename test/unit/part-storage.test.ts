import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { ServiceError } from '../../src/errors.js';
import { createMemoryBudget } from '../../src/upload/memory-budget.js';
import { Spool } from '../../src/upload/spool.js';
import { openPrivateFile } from '../../src/upload/spool-folder.js';
import { spoolStorage } from '../../src/upload/storage.js';
import { createTurnBudget, type NextTurn, type TurnBudget } from '../../src/upload/turn-budget.js';

/** What the storage engine answers multer for one part. */
interface Handled {
  error: unknown;
  info: Partial<Express.Multer.File> | undefined;
  /** The spool folder's files at the moment the answer came. */
  filesAtAnswer: string[];
}

describe("the storage engine's endings for one part", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'part-storage-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Hands `stream` to the engine as multer would; memory off unless `memoryBytes` is given. */
  function handle(
    stream: PassThrough,
    maxTotalBytes = 1 << 20,
    memoryBytes = 0,
    turns?: TurnBudget,
  ): Promise<Handled> {
    const budget = createMemoryBudget({ fileBytes: memoryBytes, totalBytes: memoryBytes });
    const spool = new Spool({ dir, openWrite: openPrivateFile }, budget, turns);
    const file = { stream, originalname: 'a.wav' } as unknown as Express.Multer.File;
    return new Promise((resolve) => {
      spoolStorage(spool, maxTotalBytes)._handleFile({} as Request, file, (error, info) =>
        resolve({ error, info, filesAtAnswer: readdirSync(dir) }),
      );
    });
  }

  it('a part that arrives whole is answered with its size, head and sha256', async () => {
    const bytes = Buffer.from('RIFF and then some audio bytes');
    const source = new PassThrough();
    const answered = handle(source, 1 << 20, 1024);
    source.end(bytes);
    const { error, info } = await answered;
    expect(error).toBeNull();
    expect(info?.held?.size).toBe(bytes.length);
    expect(info?.held?.head.equals(bytes)).toBe(true);
    expect(info?.held?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(info?.held?.source).toEqual({ bytes });
  });

  it('a part whose stream fails mid-way is answered with that error, its spool file already gone', async () => {
    const source = new PassThrough();
    const answered = handle(source);
    source.write(Buffer.alloc(64 * 1024, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(dir)).toHaveLength(1); // spooled from the start
    const failure = new Error('Unexpected end of form');
    source.destroy(failure);
    const { error, filesAtAnswer } = await answered;
    expect(error).toBe(failure);
    expect(filesAtAnswer).toEqual([]);
  });

  it('a part whose stream closes early without an error fails too, its file gone', async () => {
    const source = new PassThrough();
    const answered = handle(source);
    source.write(Buffer.alloc(1024, 1));
    await new Promise((r) => setTimeout(r, 20));
    source.destroy();
    const { error, filesAtAnswer } = await answered;
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(filesAtAnswer).toEqual([]);
  });

  it('a part the engine refuses (over MAX_TOTAL_BYTES) stops its stream, with the same error', async () => {
    const source = new PassThrough();
    const errors: unknown[] = [];
    source.on('error', (e) => errors.push(e));
    const answered = handle(source, 100);
    source.write(Buffer.alloc(200, 1));
    const { error, filesAtAnswer } = await answered;
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe('payload_too_large');
    expect(source.destroyed).toBe(true);
    expect(errors).toEqual([error]);
    expect(filesAtAnswer).toEqual([]);
  });

  describe("a large request's part under the per-turn budget", () => {
    /**
     * Ends turns by hand until `done` says stop (up to 5 s: spool writes go through the thread
     * pool, which a busy machine makes slow), letting the streams settle after each; how many.
     */
    async function turnsUntil(queued: (() => void)[], done: () => boolean): Promise<number> {
      let turns = 0;
      const until = Date.now() + 5000;
      while (!done() && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 2));
        const run = queued.splice(0);
        for (const r of run) r();
        turns += run.length;
      }
      return turns;
    }

    for (const [where, memoryBytes] of [
      ['held in memory', 1 << 20],
      ['spooled to disk', 0],
    ] as const) {
      it(`waits for the next turn once the turn's bytes are spent, and arrives byte-exact (${where})`, async () => {
        const queued: (() => void)[] = [];
        const nextTurn: NextTurn = (run) => {
          queued.push(run);
        };
        const chunks = [1, 2, 3, 4, 5].map((n) => Buffer.alloc(64 * 1024, n));
        const source = new PassThrough();
        let answer: Handled | undefined;
        void handle(source, 1 << 22, memoryBytes, createTurnBudget(64 * 1024, nextTurn)).then((h) => {
          answer = h;
        });
        for (const c of chunks) source.write(c);
        source.end();
        await new Promise((r) => setTimeout(r, 20));
        expect(answer).toBeUndefined(); // the first turn took its 64 KiB; the rest waits
        const turns = await turnsUntil(queued, () => answer !== undefined);
        expect(turns).toBeGreaterThanOrEqual(2);
        const whole = Buffer.concat(chunks);
        expect(answer?.error).toBeNull();
        expect(answer?.info?.held?.size).toBe(whole.length);
        expect(answer?.info?.held?.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
        const held = answer?.info?.held?.source;
        const bytes = held && 'bytes' in held ? held.bytes : readFileSync(held?.path ?? '');
        expect(bytes.equals(whole)).toBe(true);
      });
    }

    it('a part of a request not sharing the budget never waits for a turn', async () => {
      const source = new PassThrough();
      const answered = handle(source, 1 << 22, 1 << 20);
      for (let n = 0; n < 5; n++) source.write(Buffer.alloc(64 * 1024, n));
      source.end();
      const { error, info } = await answered;
      expect(error).toBeNull();
      expect(info?.held?.size).toBe(5 * 64 * 1024);
    });
  });
});
