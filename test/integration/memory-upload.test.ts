import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { MemoryBudget } from '../../src/upload/memory-budget.js';
import { type OpenWrite, openPrivateFile } from '../../src/upload/spool-folder.js';
import { createTurnBudget } from '../../src/upload/turn-budget.js';
import { wavOfSize } from '../helpers/fixtures.js';
import {
  buildService,
  type FakeUpstream,
  filesIn,
  listen,
  notAudio,
  postClone,
  type Received,
  type Running,
  startFakeUpstream,
  testConfig,
  truedy429,
  voiceReply,
} from '../helpers/kit.js';
import { multipart, type Part } from '../helpers/multipart.js';

const KiB = 1024;

/** A real PCM WAV of `size` bytes; each call starts the speech elsewhere, so every file is distinct. */
let made = 0;
const wav = (size: number): Buffer => wavOfSize(size, ++made);

/** SHA-256 of each buffer (jest compares big Buffers element by element: far too slow). */
const digests = (files: readonly Buffer[]) => files.map((f) => createHash('sha256').update(f).digest('hex'));

/** The files of an upstream body, decoded back to bytes, as digests. */
const sentFiles = (r: Received | undefined) =>
  digests(
    (JSON.parse(r?.body.toString('utf8') ?? '{"files":[]}') as { files: { data: string }[] }).files.map((f) =>
      Buffer.from(f.data, 'base64'),
    ),
  );

/**
 * The SHA-256 of each file as the service computed it while holding the part (its audit entry
 * names them; the idempotency fingerprint uses the same): it must be the file's, whether the part
 * stayed in memory, moved to disk mid-part or went to disk from the start.
 */
const auditedDigests = (log: { lines: Record<string, unknown>[] }, name: string) =>
  (
    log.lines.find((l) => l.audit === true && l.event === 'clone_requested' && l.voice_name === name) as
      | { files: { sha256: string }[] }
      | undefined
  )?.files.map((f) => f.sha256);

/** The upstream request for the upload named `name`. */
const sentNamed = (received: readonly Received[], name: string) =>
  received.find((r) => r.body.includes(`{"name":${JSON.stringify(name)},`));

/** A spool writer that records every file the service opens: what went to disk, and when. */
function recordingWriter(): { openWrite: OpenWrite; opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    openWrite: (file) => {
      opened.push(file);
      return openPrivateFile(file);
    },
  };
}

/** A clone of these WAV buffers, each under its file name. */
function postWavs(app: Parameters<typeof postClone>[0], name: string, files: Record<string, Buffer>) {
  return postClone(app, {
    name,
    files: Object.entries(files).map(([filename, data]) => ({ filename, data })),
  });
}

/** Polls `cond` every 5 ms, up to `ms`. */
async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

/** The budget is back to nothing held, every reservation given back exactly once. */
async function expectAllReleased(budget: MemoryBudget, uploadDir?: string): Promise<void> {
  await waitFor(() => budget.inUse === 0);
  expect(budget.inUse).toBe(0);
  expect(budget.releasedTotal).toBe(budget.reservedTotal);
  // And nothing of it left on disk either, when parts went there.
  if (uploadDir) expect(await waitFor(() => filesIn(uploadDir).length === 0)).toBe(true);
}

/** An upload over a raw socket, sent in pieces the test chooses. */
function rawUpload(url: string, parts: Part[]) {
  const { body, contentType } = multipart(parts);
  const head = `POST /api/voices/clone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  const all = Buffer.concat([Buffer.from(head), body]);
  const { port } = new URL(url);
  let sent = 0;
  let answer = '';
  const socket: Socket = connect(Number(port), '127.0.0.1');
  socket.on('data', (c) => {
    answer += String(c);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(answer)));
  return {
    /** Sends up to `bodyBytes` of the body (and the head). */
    sendUntil: (bodyBytes: number) => {
      const end = head.length + bodyBytes;
      socket.write(all.subarray(sent, end));
      sent = end;
    },
    // Not `end()`: Node's server drops a request whose client half-closes before the answer.
    sendRest: () => {
      socket.write(all.subarray(sent));
      sent = all.length;
    },
    abort: () => socket.destroy(),
    /** The whole answer once the server closes (Connection: close). */
    answer: closed,
  };
}

/** A raw upload of a 100 KiB part (held in memory), then a part of `secondBytes`. */
const heldThenLarger = (url: string, secondBytes: number) =>
  rawUpload(url, [
    { field: 'name', value: 'Gone' },
    { field: 'files', filename: 'a.wav', data: wav(100 * KiB) },
    { field: 'files', filename: 'b.wav', data: wav(secondBytes) },
  ]);

describe('file parts held in memory', () => {
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = await startFakeUpstream();
  });
  afterAll(() => fake.close());

  it('a small part never touches the disk and reaches Truedy byte for byte', async () => {
    const writer = recordingWriter();
    const { app, memoryBudget, log } = buildService(testConfig(), fake.url, { openWrite: writer.openWrite });
    const [a, b] = [wav(200 * KiB), wav(64 * KiB + 2)];
    const files = [a, b];
    const before = fake.received.length;
    const res = await postWavs(app, 'Held', { 'a.wav': a, 'b.wav': b });
    expect(res.status).toBe(201);
    expect(fake.received.length).toBe(before + 1);
    expect(sentFiles(fake.received.at(-1))).toEqual(digests(files));
    expect(auditedDigests(log, 'Held')).toEqual(digests(files));
    expect(writer.opened).toEqual([]);
    expect(memoryBudget.reservedTotal).toBe(200 * KiB + 64 * KiB + 2);
    await expectAllReleased(memoryBudget);
  });

  it('every retry sends the same bytes from memory', async () => {
    const writer = recordingWriter();
    const { app, memoryBudget } = buildService(testConfig(), fake.url, { openWrite: writer.openWrite });
    const file = wav(300 * KiB);
    fake.queue.push(truedy429(20), truedy429(20));
    const before = fake.received.length;
    const res = await postWavs(app, 'Again', { 'a.wav': file });
    expect(res.status).toBe(201);
    expect(res.headers['x-upstream-attempts']).toBe('3');
    const attempts = fake.received.slice(before);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((r) => r.sha256)).size).toBe(1);
    expect(sentFiles(attempts[2])).toEqual(digests([file]));
    expect(writer.opened).toEqual([]);
    await expectAllReleased(memoryBudget);
  });

  it('a part larger than MEMORY_BUFFER_FILE_BYTES moves to disk and stays byte-exact, also on retries', async () => {
    const writer = recordingWriter();
    const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: String(64 * KiB) });
    const { app, memoryBudget, log } = buildService(config, fake.url, { openWrite: writer.openWrite });
    const small = wav(40 * KiB);
    const big = wav(700 * KiB);
    fake.queue.push(truedy429(20));
    const before = fake.received.length;
    const res = await postWavs(app, 'Spilled', { 'small.wav': small, 'big.wav': big });
    expect(res.status).toBe(201);
    const attempts = fake.received.slice(before);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]?.sha256).toBe(attempts[1]?.sha256);
    expect(sentFiles(attempts[1])).toEqual(digests([small, big]));
    expect(auditedDigests(log, 'Spilled')).toEqual(digests([small, big]));
    // Only the big part went to disk, after memory had held its first 64 KiB or so.
    expect(writer.opened).toHaveLength(1);
    expect(memoryBudget.reservedTotal).toBeGreaterThan(40 * KiB);
    await expectAllReleased(memoryBudget);
    expect(filesIn(config.uploadDir)).toEqual([]);
  });

  it('MEMORY_BUFFER_FILE_BYTES=0: every part is spooled, nothing held in memory', async () => {
    const writer = recordingWriter();
    const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: '0' });
    const { app, memoryBudget, log } = buildService(config, fake.url, { openWrite: writer.openWrite });
    const [a, b] = [wav(10 * KiB), wav(20 * KiB)];
    const files = [a, b];
    const res = await postWavs(app, 'Disk', { 'a.wav': a, 'b.wav': b });
    expect(res.status).toBe(201);
    expect(sentFiles(fake.received.at(-1))).toEqual(digests(files));
    expect(auditedDigests(log, 'Disk')).toEqual(digests(files));
    expect(writer.opened).toHaveLength(2);
    expect(memoryBudget.highWater).toBe(0);
  });
});

describe('memory is given back on every ending', () => {
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = await startFakeUpstream();
  });
  afterAll(() => fake.close());
  const file = wav(150 * KiB);

  const endings: [string, Record<string, string>, (r: request.Test) => request.Test, number, () => void][] = [
    ['success', {}, (r) => r.field('name', 'n').attach('files', file, 'a.wav'), 201, () => undefined],
    [
      'Truedy refuses (422)',
      {},
      (r) => r.field('name', 'n').attach('files', file, 'a.wav'),
      422,
      () => fake.queue.push({ status: 422, body: { detail: [] } }),
    ],
    [
      'retries run out (429)',
      { RETRY_MAX_ATTEMPTS: '2' },
      (r) => r.field('name', 'n').attach('files', file, 'a.wav'),
      429,
      () => fake.queue.push(truedy429(10), truedy429(10)),
    ],
    [
      'not audio (415), after the part was held',
      {},
      (r) => r.field('name', 'n').attach('files', readFileSync(notAudio('random-bytes.bin')), 'a.wav'),
      415,
      () => undefined,
    ],
    [
      'invalid form (400: no name), after the part was held',
      {},
      (r) => r.attach('files', file, 'a.wav'),
      400,
      () => undefined,
    ],
    [
      'MAX_FILE_BYTES reached mid-part (413)',
      { MAX_FILE_BYTES: String(100 * KiB) },
      (r) => r.field('name', 'n').attach('files', file, 'a.wav'),
      413,
      () => undefined,
    ],
    [
      'MAX_TOTAL_BYTES reached mid-part (413)',
      { MAX_TOTAL_BYTES: String(200 * KiB) },
      (r) => r.field('name', 'n').attach('files', file, 'a.wav').attach('files', file, 'b.wav'),
      413,
      () => undefined,
    ],
  ];

  it.each(endings)('%s', async (_what, env, build, status, script) => {
    const { app, memoryBudget } = buildService(testConfig(env), fake.url);
    script();
    const res = await build(request(app).post('/api/voices/clone'));
    expect(res.status).toBe(status);
    expect(memoryBudget.reservedTotal).toBeGreaterThan(0);
    await expectAllReleased(memoryBudget);
  });

  it('the client aborts mid-part: the part held so far is given back', async () => {
    const writer = recordingWriter();
    const { app, memoryBudget } = buildService(testConfig(), fake.url, { openWrite: writer.openWrite });
    const server = await listen(app);
    try {
      const upload = rawUpload(server.url, [
        { field: 'name', value: 'Gone' },
        { field: 'files', filename: 'a.wav', data: wav(600 * KiB) },
      ]);
      upload.sendUntil(400 * KiB);
      expect(await waitFor(() => memoryBudget.inUse > 300 * KiB)).toBe(true);
      upload.abort();
      await expectAllReleased(memoryBudget);
      expect(writer.opened).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('the client aborts after a held part and during the next, after that one spilled to disk', async () => {
    const writer = recordingWriter();
    const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: String(256 * KiB) });
    const { app, memoryBudget } = buildService(config, fake.url, { openWrite: writer.openWrite });
    const server = await listen(app);
    try {
      const upload = heldThenLarger(server.url, 600 * KiB);
      upload.sendUntil(500 * KiB);
      // b.wav outgrew 256 KiB: moved to disk, its memory given back; a.wav is still held.
      expect(await waitFor(() => writer.opened.length === 1 && memoryBudget.inUse === 100 * KiB)).toBe(true);
      upload.abort();
      await expectAllReleased(memoryBudget, config.uploadDir);
    } finally {
      await server.close();
    }
  });

  it('the client aborts while its upload waits out a 429: memory given back', async () => {
    const { app, memoryBudget } = buildService(testConfig(), fake.url);
    const server = await listen(app);
    try {
      fake.queue.push(truedy429(400));
      const before = fake.received.length;
      const upload = rawUpload(server.url, [
        { field: 'name', value: 'Waiting' },
        { field: 'files', filename: 'a.wav', data: wav(100 * KiB) },
      ]);
      upload.sendUntil(Number.MAX_SAFE_INTEGER);
      expect(await waitFor(() => fake.received.length === before + 1)).toBe(true);
      expect(memoryBudget.inUse).toBe(100 * KiB);
      upload.abort();
      await expectAllReleased(memoryBudget);
    } finally {
      await server.close();
    }
  });

  it('draining: an upload in flight when the drain starts finishes, and gives its memory back', async () => {
    const { app, memoryBudget, lifecycle } = buildService(testConfig(), fake.url);
    const server = await listen(app);
    try {
      const data = wav(300 * KiB);
      const upload = rawUpload(server.url, [
        { field: 'name', value: 'Draining' },
        { field: 'files', filename: 'a.wav', data },
      ]);
      upload.sendUntil(200 * KiB);
      expect(await waitFor(() => memoryBudget.inUse > 100 * KiB)).toBe(true);
      lifecycle.draining = true;
      upload.sendRest();
      expect(await upload.answer).toMatch(/^HTTP\/1\.1 201/);
      expect(sentFiles(fake.received.at(-1))).toEqual(digests([data]));
      await expectAllReleased(memoryBudget);
    } finally {
      await server.close();
    }
  });
});

describe('the budget is process-wide', () => {
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = await startFakeUpstream();
  });
  afterAll(() => fake.close());

  /** Two uploads, A sent in part and held there while B arrives whole: B finds the budget spent mid-part. */
  async function exhaust() {
    const writer = recordingWriter();
    const config = testConfig({ MEMORY_BUFFER_TOTAL_BYTES: String(1024 * KiB) });
    const { app, memoryBudget, log } = buildService(config, fake.url, { openWrite: writer.openWrite });
    const server: Running = await listen(app);
    const a = wav(800 * KiB);
    const b = wav(800 * KiB);
    const uploadA = rawUpload(server.url, [
      { field: 'name', value: 'A' },
      { field: 'files', filename: 'a.wav', data: a },
    ]);
    uploadA.sendUntil(700 * KiB);
    // All of what A sent is held (700 KiB less the few hundred bytes of multipart heads) before
    // B starts: a hold read while A's bytes were still arriving would not be A's hold.
    expect(await waitFor(() => memoryBudget.inUse > 700 * KiB - 512)).toBe(true);
    const heldByA = memoryBudget.inUse;
    const uploadB = rawUpload(server.url, [
      { field: 'name', value: 'B' },
      { field: 'files', filename: 'b.wav', data: b },
    ]);
    return { writer, config, memoryBudget, log, server, a, b, uploadA, uploadB, heldByA };
  }

  it('a part that finds the budget spent mid-part moves to disk, byte-exact; the budget never overflows', async () => {
    const { writer, memoryBudget, log, server, a, b, uploadA, uploadB, heldByA } = await exhaust();
    try {
      uploadB.sendRest();
      expect(await uploadB.answer).toMatch(/^HTTP\/1\.1 201/);
      expect(writer.opened).toHaveLength(1); // B's part, moved to disk when the budget ran out
      const sentB = sentNamed(fake.received, 'B');
      expect(sentFiles(sentB)).toEqual(digests([b]));
      expect(auditedDigests(log, 'B')).toEqual(digests([b]));
      expect(memoryBudget.highWater).toBeLessThanOrEqual(1024 * KiB);
      expect(memoryBudget.highWater).toBeGreaterThan(heldByA); // B did hold some before it spilled
      await waitFor(() => memoryBudget.inUse === heldByA);
      expect(memoryBudget.inUse).toBe(heldByA); // B gave back what it held; A still holds its part
      uploadA.sendRest();
      expect(await uploadA.answer).toMatch(/^HTTP\/1\.1 201/);
      const sentA = sentNamed(fake.received, 'A');
      expect(sentFiles(sentA)).toEqual(digests([a]));
      expect(auditedDigests(log, 'A')).toEqual(digests([a]));
      expect(writer.opened).toHaveLength(1); // A stayed in memory
      await expectAllReleased(memoryBudget);
    } finally {
      await server.close();
    }
  });

  it('the client of a part that spilled for lack of budget aborts: everything is given back', async () => {
    const { writer, config, memoryBudget, server, uploadA, uploadB, heldByA } = await exhaust();
    try {
      uploadB.sendUntil(700 * KiB);
      expect(await waitFor(() => writer.opened.length === 1)).toBe(true);
      uploadB.abort();
      expect(await waitFor(() => memoryBudget.inUse === heldByA)).toBe(true);
      uploadA.abort();
      await expectAllReleased(memoryBudget, config.uploadDir);
    } finally {
      await server.close();
    }
  });

  it('64 concurrent uploads from real HTTP clients never hold more than MEMORY_BUFFER_TOTAL_BYTES', async () => {
    const writer = recordingWriter();
    // A quarter of the defaults' proportions keeps the budget contended with a quarter of the bytes.
    const total = 512 * KiB;
    const config = testConfig({
      MEMORY_BUFFER_FILE_BYTES: String(128 * KiB),
      MEMORY_BUFFER_TOTAL_BYTES: String(total),
    });
    // Upstream answers after 30 ms, so held parts stay held while the others arrive.
    const slow = await startFakeUpstream([], (r) => ({ ...voiceReply(r), delayMs: 30 }));
    const { app, memoryBudget } = buildService(config, slow.url, { openWrite: writer.openWrite });
    const server = await listen(app);
    try {
      const sizes = Array.from({ length: 64 }, (_, i) => [
        (25 + ((i * 37) % 125)) * KiB,
        (25 + ((i * 53) % 75)) * KiB,
      ]);
      const uploads = sizes.map((pair, i) => ({
        name: `u${i}`,
        files: pair.map((s) => wav(s)),
      }));
      const oversize = sizes.flat().filter((s) => s > 128 * KiB).length;
      const statuses = await Promise.all(
        uploads.map(
          (u) =>
            new Promise<number>((resolve, reject) => {
              const { body, contentType } = multipart([
                { field: 'name', value: u.name },
                ...u.files.map((data, j) => ({ field: 'files', filename: `f${j}.wav`, data })),
              ]);
              const req = httpRequest(
                `${server.url}/api/voices/clone`,
                { method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } },
                (res) => {
                  res.resume();
                  res.on('end', () => resolve(res.statusCode ?? 0));
                },
              );
              req.on('error', reject);
              req.end(body);
            }),
        ),
      );
      expect(statuses).toEqual(uploads.map(() => 201));
      for (const u of uploads) {
        const sent = sentNamed(slow.received, u.name);
        expect(sentFiles(sent)).toEqual(digests(u.files));
      }
      expect(memoryBudget.highWater).toBeLessThanOrEqual(total);
      // The budget was contended: parts small enough for memory were spooled because it was spent.
      expect(writer.opened.length).toBeGreaterThan(oversize);
      await expectAllReleased(memoryBudget, config.uploadDir);
    } finally {
      await server.close();
      await slow.close();
    }
    // About 5 s on an idle 2-core machine; with both cores busy and the rest of the suite beside it,
    // 64 full clone round trips have taken over 20 s.
  }, 60_000);
});

describe('large uploads share a per-turn budget; small ones are not held back', () => {
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = await startFakeUpstream();
  });
  afterAll(() => fake.close());

  /** A budget whose turns end only when the test runs them. */
  function manualBudget(bytesPerTurn: number) {
    const queued: (() => void)[] = [];
    const budget = createTurnBudget(bytesPerTurn, (run) => {
      queued.push(run);
    });
    return {
      budget,
      waiting: () => queued.length > 0,
      /** Ends every turn asked for so far; how many. */
      endTurns: () => {
        const run = queued.splice(0);
        for (const r of run) r();
        return run.length;
      },
    };
  }

  it('a large upload goes on turn by turn once a turn is spent, and reaches Truedy byte for byte', async () => {
    const turns = manualBudget(64 * KiB);
    const { app } = buildService(testConfig(), fake.url, { turnBudget: turns.budget });
    const big = wav(1536 * KiB); // the request is over LARGE_REQUEST_BYTES
    let answered = false;
    const pending = postWavs(app, 'Large', { 'big.wav': big }).then((r) => {
      answered = true;
      return r;
    });
    expect(await waitFor(() => turns.waiting())).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false); // no turn ended: the part waits, nothing lost
    let ended = 0;
    while (!answered && ended < 10_000) {
      ended += turns.endTurns();
      await new Promise((r) => setImmediate(r));
    }
    const res = await pending;
    expect(res.status).toBe(201);
    expect(ended).toBeGreaterThan(10);
    expect(sentFiles(sentNamed(fake.received, 'Large'))).toEqual(digests([big]));
  });

  it('a small upload is not held back, even while the turn is spent', async () => {
    const turns = manualBudget(64 * KiB);
    turns.budget.take(1 << 20, () => undefined); // this turn is spent, and the test never ends it
    const { app } = buildService(testConfig(), fake.url, { turnBudget: turns.budget });
    const small = wav(200 * KiB);
    const res = await postWavs(app, 'Small', { 'a.wav': small });
    expect(res.status).toBe(201);
    expect(sentFiles(sentNamed(fake.received, 'Small'))).toEqual(digests([small]));
  });

  it('the client aborts while its part waits for a turn: memory and files given back', async () => {
    const turns = manualBudget(64 * KiB);
    const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: String(256 * KiB) });
    const { app, memoryBudget } = buildService(config, fake.url, { turnBudget: turns.budget });
    const server = await listen(app);
    try {
      const upload = heldThenLarger(server.url, 1200 * KiB);
      upload.sendUntil(900 * KiB);
      // Turn by turn until b.wav has moved to disk, then it waits with a.wav still held.
      expect(
        await waitFor(() => {
          turns.endTurns();
          return filesIn(config.uploadDir).length === 1;
        }),
      ).toBe(true);
      expect(memoryBudget.inUse).toBeGreaterThan(0);
      upload.abort();
      // Turns go on ending, as the event loop's do: the waiting part goes on into a request that
      // is over, and the server, reading again, sees the client gone.
      expect(
        await waitFor(() => {
          turns.endTurns();
          return memoryBudget.inUse === 0;
        }),
      ).toBe(true);
      await expectAllReleased(memoryBudget, config.uploadDir);
      expect(await upload.answer).toBe('');
    } finally {
      await server.close();
    }
  });
});
