// The fuzz harness's worker thread (bundled by esbuild; see harness.ts): reads one input held in
// memory and, when asked, the same bytes spooled to a file, and reports what each read answered,
// how long it took and the longest stretch it kept the event loop from running. A reader that
// hangs synchronously can only be stopped from outside: the harness terminates this thread.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { READERS, readAudioFacts } from '../../src/audio/audio-facts.js';
import { ByteReader } from '../../src/audio/byte-reader.js';
import { InvalidAudioError } from '../../src/audio/invalid-audio.js';
import type { Outcome, WorkerReply, WorkerRequest } from './protocol.js';

// The folder for spooled inputs is the harness's (it removes it: a terminated thread cleans nothing up).
const { spoolDir: dir } = workerData as { spoolDir: string };
let serial = 0;

/** The first stack frame in src/audio: where a RangeError that became "corrupt: ..." came from. */
function site(stack: string | undefined): string {
  const line = (stack ?? '').split('\n').find((l) => /src[\\/]audio[\\/]/.test(l)) ?? '';
  const m = /src[\\/]audio[\\/]([\w.-]+):(\d+)/.exec(line);
  return m ? `${m[1]}:${m[2]}` : 'unknown';
}

/** A "corrupt: <message>" refusal made from a RangeError: run the reader again to see where it was thrown. */
async function diagnose(
  bytes: Buffer,
  type: string,
): Promise<{ site: string; message: string; code: string } | undefined> {
  const read = READERS[type];
  if (!read) return undefined;
  try {
    await read(ByteReader.fromBytes(bytes));
  } catch (e) {
    if (e instanceof RangeError)
      return { site: site(e.stack), message: e.message, code: (e as { code?: string }).code ?? '' };
  }
  return undefined;
}

async function outcome(run: () => Promise<{ seconds: number }>): Promise<Outcome> {
  const started = performance.now();
  const ms = () => performance.now() - started;
  try {
    const { seconds } = await run();
    return { kind: 'ok', seconds, ms: ms() };
  } catch (e) {
    if (e instanceof InvalidAudioError) return { kind: 'invalid', reason: e.reason, ms: ms() };
    const err = e as Error;
    if (err?.name === 'AbortError') return { kind: 'abort', ms: ms() };
    return {
      kind: 'error',
      name: err?.name ?? typeof e,
      message: String(err?.message ?? e),
      site: site(err?.stack),
      ms: ms(),
    };
  }
}

async function handle(req: WorkerRequest): Promise<WorkerReply> {
  const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const inMemory = await outcome(() => readAudioFacts({ bytes }, req.type));
  // A timer turn after a read that took a while, so one that held the loop all along is measured too.
  if (inMemory.ms > 5) await new Promise((resolve) => setTimeout(resolve, 6));
  delay.disable();
  const blockMs = delay.max / 1e6;
  let spooled: Outcome | null = null;
  if (req.spool) {
    const file = path.join(dir, `in-${serial++}`);
    writeFileSync(file, bytes);
    try {
      spooled = await outcome(() => readAudioFacts({ path: file }, req.type));
    } finally {
      rmSync(file, { force: true });
    }
  }
  const reply: WorkerReply = { id: req.id, bytes: inMemory, path: spooled, blockMs };
  if (inMemory.kind === 'invalid' && inMemory.reason.startsWith('corrupt: ')) {
    reply.rangeError = await diagnose(bytes, req.type);
  }
  return reply;
}

parentPort?.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (reply) => parentPort?.postMessage(reply),
    (e: unknown) =>
      parentPort?.postMessage({
        id: req.id,
        bytes: { kind: 'error', name: 'HarnessError', message: String(e), site: 'worker', ms: 0 },
        path: null,
        blockMs: 0,
      } satisfies WorkerReply),
  );
});
