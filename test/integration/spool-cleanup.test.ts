import { readdirSync, readlinkSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  buildService,
  type FakeUpstream,
  filesIn,
  listen,
  type Running,
  startFakeUpstream,
  testConfig,
  truedy429,
} from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';

/** Sends `bytes` of a raw HTTP request, then destroys the socket. */
function sendAndAbort(url: string, head: string, body: Buffer, cutAt: number, linger = 10): Promise<void> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      const all = Buffer.concat([Buffer.from(head), body]);
      socket.write(all.subarray(0, cutAt), () => setTimeout(() => socket.destroy(), linger));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

async function waitForEmpty(dir: string, ms = 1000): Promise<string[]> {
  const until = Date.now() + ms;
  while (Date.now() < until && filesIn(dir).length) await new Promise((r) => setTimeout(r, 10));
  return filesIn(dir);
}

describe('no spooled upload outlives its request', () => {
  let fake: FakeUpstream;
  let server: Running;
  // The disk spool is the point here: memory buffering off (memory-upload.test.ts covers memory).
  const config = testConfig({ MAX_FILE_BYTES: String(2 * 1024 * 1024), MEMORY_BUFFER_FILE_BYTES: '0' });
  const wav = Buffer.concat([
    Buffer.from(
      'RIFF\x24\x00\x10\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x10\x00',
      'latin1',
    ),
    Buffer.alloc(600_000, 7),
  ]);
  const { body, contentType } = multipart([
    { field: 'name', value: 'Aborted' },
    { field: 'files', filename: 'a.wav', data: wav },
    { field: 'files', filename: 'b.wav', data: wav },
  ]);
  const head = (len: number) =>
    `POST /api/voices/clone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${len}\r\n\r\n`;

  beforeAll(async () => {
    fake = await startFakeUpstream([], () => truedy429(300));
    server = await listen(buildService(config, fake.url).app);
  });
  afterAll(async () => {
    await server.close();
    await fake.close();
  });

  it('client aborts at random points of the upload', async () => {
    const cuts = Array.from({ length: 12 }, () => Math.floor(Math.random() * body.length));
    cuts.push(200, body.length - 10); // inside the first part's headers, and just before the end
    await Promise.all(cuts.map((cut) => sendAndAbort(server.url, head(body.length), body, cut)));
    expect(await waitForEmpty(config.uploadDir)).toEqual([]);
  });

  it('client aborts during the retry wait, after the whole upload', async () => {
    const before = fake.received.length;
    const aborted = sendAndAbort(server.url, head(body.length), body, body.length + 1000, 150);
    await aborted;
    expect(fake.received.length).toBe(before + 1);
    expect(await waitForEmpty(config.uploadDir)).toEqual([]);
    // The wait was cancelled: no second attempt after the reset.
    await new Promise((r) => setTimeout(r, 450));
    expect(fake.received.length).toBe(before + 1);
  });
});

/** Open descriptors of this process that point into `dir`. */
function descriptorsInto(dir: string): string[] {
  const fds = readdirSync('/proc/self/fd');
  return fds.flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // closed between the listing and the look
    }
  });
}

describe('client gone while the body is going upstream', () => {
  it('the send stops, the folder empties and no descriptor is left on a spooled file', async () => {
    // An upstream that takes the request head and then reads nothing: the send stalls on
    // backpressure part-way through a 12 MB base64 body.
    let started = 0;
    const stalled = await listen((req: IncomingMessage) => {
      started++;
      req.pause();
    });
    const config = testConfig({ MAX_FILE_BYTES: String(10 * 1024 * 1024), UPSTREAM_TIMEOUT_MS: '60000' });
    const server = await listen(buildService(config, stalled.url).app);
    try {
      const big = Buffer.concat([
        Buffer.from('RIFF\x24\x00\x10\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00', 'latin1'),
        Buffer.alloc(9 * 1024 * 1024, 3),
      ]);
      const { body, contentType } = multipart([
        { field: 'name', value: 'Gone' },
        { field: 'files', filename: 'big.wav', data: big },
      ]);
      const head = `POST /api/voices/clone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write(Buffer.concat([Buffer.from(head), body])),
      );
      socket.on('error', () => undefined);
      const until = Date.now() + 5000;
      while (!started && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(started).toBe(1);
      expect(descriptorsInto(config.uploadDir)).toHaveLength(1); // the body stream is reading it
      socket.destroy();
      expect(await waitForEmpty(config.uploadDir)).toEqual([]);
      expect(descriptorsInto(config.uploadDir)).toEqual([]);
    } finally {
      await server.close();
      await stalled.close();
    }
  });
});

describe('bodies larger than any acceptable upload', () => {
  let fake: FakeUpstream;
  let server: Running;
  const config = testConfig({ MAX_TOTAL_BYTES: '100000', MEMORY_BUFFER_FILE_BYTES: '0' });
  beforeAll(async () => {
    fake = await startFakeUpstream();
    server = await listen(buildService(config, fake.url).app);
  });
  afterAll(async () => {
    await server.close();
    await fake.close();
  });

  /** Writes `head`, then `piece` every 5 ms until the server answers or closes. */
  function push(head: string, piece: Buffer) {
    const { port } = new URL(server.url);
    return new Promise<{ answer: string; sent: number }>((resolve) => {
      let answer = '';
      let sent = 0;
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(head);
        const timer = setInterval(() => {
          socket.write(piece);
          sent += piece.length;
        }, 5);
        socket.on('close', () => {
          clearInterval(timer);
          resolve({ answer, sent });
        });
      });
      socket.on('data', (c) => {
        answer += String(c);
      });
      socket.on('error', () => undefined);
    });
  }

  it('a declared Content-Length over the limit: 413 at once, before a byte is read', async () => {
    const { answer, sent } = await push(
      'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
        `Content-Length: ${config.limits.maxRequestBytes + 1}\r\n\r\n`,
      Buffer.alloc(1024),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('"limit":"MAX_TOTAL_BYTES"');
    expect(sent).toBeLessThan(64 * 1024);
    expect(filesIn(config.uploadDir)).toEqual([]);
  });

  it('a chunked body that keeps coming past the limit: cut once it passes any acceptable size', async () => {
    const start = Buffer.from(
      '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nBig\r\n' +
        '--b\r\nContent-Disposition: form-data; name="files"; filename="a.wav"\r\n\r\nRIFF\x24\x00\x10\x00WAVEfmt ',
      'latin1',
    );
    const chunk = (data: Buffer) =>
      Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const { sent } = await push(
      'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
        `Transfer-Encoding: chunked\r\n\r\n${chunk(start).toString('latin1')}`,
      chunk(Buffer.alloc(32 * 1024, 7)),
    );
    // Cut soon after the largest acceptable body, not left to drain until the request timeout.
    expect(sent).toBeGreaterThan(config.limits.maxTotalBytes);
    expect(sent).toBeLessThan(config.limits.maxRequestBytes + 2 * 1024 * 1024);
    expect(await waitForEmpty(config.uploadDir)).toEqual([]);
    expect(fake.received).toHaveLength(0);
  });
});
