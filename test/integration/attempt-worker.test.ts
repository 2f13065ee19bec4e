import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createCloneBody } from '../../src/upload/clone-body.js';
import {
  type AttemptTransport,
  createWorkerTransport,
  fromWire,
  toWire,
} from '../../src/upstream/attempt-transport.js';
import type { AttemptRequest } from '../../src/upstream/send-attempt.js';
import {
  ATTEMPT_WORKER,
  deferred,
  type FakeUpstream,
  listen,
  startFakeUpstream,
  tempDir,
} from '../helpers/kit.js';

// The upstream worker (src/upstream/attempt-worker.ts, run from dist/ as the service runs it): what
// crosses to it, when it is used, and what happens when it dies or the caller goes away. Every
// other integration test sends its attempts through it too (the kit sets offloadFrom 0).

const fakes: FakeUpstream[] = [];
const transports: AttemptTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

const errors: Error[] = [];
function transport(offloadFrom: number, script = ATTEMPT_WORKER): AttemptTransport {
  const t = createWorkerTransport({ script, offloadFrom, onError: (e) => errors.push(e) });
  transports.push(t);
  return t;
}

async function fake(...args: Parameters<typeof startFakeUpstream>): Promise<FakeUpstream> {
  const f = await startFakeUpstream(...args);
  fakes.push(f);
  return f;
}

/** A clone request to `url` whose body holds one file in memory (a slice of a larger buffer) and one spooled. */
function cloneRequest(url: string): { request: AttemptRequest; expected: Buffer } {
  const big = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  const held = big.subarray(1234, 1234 + 4001);
  const spooled = path.join(tempDir(), 'spooled');
  const onDisk = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 7) % 256));
  writeFileSync(spooled, onDisk);
  const body = createCloneBody('Zoë “voice” \u2028', [
    { filename: 'ä.wav', contentType: 'audio/wav', size: held.length, source: { bytes: held } },
    { filename: 'b.wav', contentType: 'audio/wav', size: onDisk.length, source: { path: spooled } },
  ]);
  const expected = Buffer.from(
    JSON.stringify({
      name: 'Zoë “voice” \u2028',
      files: [
        { filename: 'ä.wav', data: held.toString('base64'), content_type: 'audio/wav' },
        { filename: 'b.wav', data: onDisk.toString('base64'), content_type: 'audio/wav' },
      ],
    }).replace('\u2028', '\\u2028'),
  );
  const request: AttemptRequest = {
    method: 'POST',
    url: `${url}/voices/clone`,
    headers: { 'content-type': 'application/json', 'content-length': String(body.contentLength) },
    timeoutMs: 5000,
    maxResponseBytes: 1 << 20,
    body: body.parts,
  };
  return { request, expected };
}

describe('what crosses to the worker', () => {
  it('framing and files arrive byte for byte; a held file carries its own bytes, not its pool', () => {
    const { request } = cloneRequest('http://127.0.0.1:9');
    const wire = toWire(request);
    const held = wire.body?.[2] as { bytes: Uint8Array };
    expect(held.bytes.byteLength).toBe(4001);
    expect(held.bytes.buffer.byteLength).toBe(4001);
    const back = fromWire(structuredClone(wire));
    expect(back.body).toEqual(request.body);
    expect(Buffer.concat((back.body ?? []).filter(Buffer.isBuffer))).toEqual(
      Buffer.concat((request.body ?? []).filter(Buffer.isBuffer)),
    );
  });
});

describe('the worker sends', () => {
  it('the same bytes the in-thread path sends, and brings the parsed answer back', async () => {
    const f = await fake();
    const { request, expected } = cloneRequest(f.url);
    const t = transport(0);
    const { result, bytesSent } = await t.send(request, new AbortController().signal);
    expect(result).toMatchObject({
      kind: 'response',
      status: 201,
      body: { data: { id: 'voice_custom123' } },
    });
    expect(bytesSent).toBe(expected.length);
    expect(f.received[0]?.body.equals(expected)).toBe(true);
    expect(t.sent).toEqual({ thread: 0, worker: 1 });
  });

  it('a lone attempt stays in the event loop thread; one that overlaps it goes to the worker', async () => {
    const hold = deferred();
    const f = await fake([{ until: hold.promise }]);
    const t = transport(1);
    const signal = new AbortController().signal;
    const first = t.send(cloneRequest(f.url).request, signal);
    await f.waitForRequests(1, { timeoutMs: 5000 });
    const second = t.send(cloneRequest(f.url).request, signal);
    expect(t.sent).toEqual({ thread: 1, worker: 1 });
    await f.waitForRequests(2, { timeoutMs: 5000 });
    hold.resolve();
    const answers = await Promise.all([first, second]);
    expect(answers.map((a) => a.result.kind)).toEqual(['response', 'response']);
    // Nothing in flight again: the next one is the event loop's.
    await t.send(cloneRequest(f.url).request, signal);
    expect(t.sent).toEqual({ thread: 2, worker: 1 });
  });

  it('a caller who goes away gets `aborted` at once, and the worker drops the connection to Truedy', async () => {
    // An upstream that takes the request and never answers, and says when its connection closes.
    const arrived = deferred();
    const closed = deferred();
    const silent = await listen((req: IncomingMessage) => {
      req.resume();
      req.socket.once('close', () => closed.resolve());
      arrived.resolve();
    });
    const t = transport(0);
    const caller = new AbortController();
    const sending = t.send(cloneRequest(silent.url).request, caller.signal);
    await arrived.promise;
    caller.abort(new Error('client went away'));
    expect((await sending).result).toEqual({ kind: 'aborted' });
    await closed.promise; // Jest's timeout fails the test if the worker kept the exchange open
    await silent.close();
    // The worker still serves the next attempt.
    const f = await fake();
    const next = await t.send(cloneRequest(f.url).request, new AbortController().signal);
    expect(next.result.kind).toBe('response');
  });

  it('a worker that dies ends its attempts as `network` (maybe sent) and the next attempt starts a new one', async () => {
    // A worker that exits on the first message it gets, as a crash or an out-of-memory would.
    const script = path.join(tempDir(), 'dying-worker.mjs');
    writeFileSync(
      script,
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n",
    );
    const t = transport(0, pathToFileURL(script));
    const signal = new AbortController().signal;
    const { request } = cloneRequest('http://127.0.0.1:9');
    const first = await t.send(request, signal);
    expect(first).toEqual({
      result: { kind: 'network', message: 'the upstream worker stopped' },
      bytesSent: 0,
    });
    // Were the dead worker kept, this message would go nowhere and the promise never settle.
    const second = await t.send(request, signal);
    expect(second.result.kind).toBe('network');
    expect(t.sent.worker).toBe(2);
  });
});
