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
  const config = testConfig({ MAX_FILE_BYTES: String(2 * 1024 * 1024) });
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

describe('bodies larger than any acceptable upload', () => {
  let fake: FakeUpstream;
  let server: Running;
  const config = testConfig({ MAX_TOTAL_BYTES: '100000' });
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
        `Content-Length: ${config.maxRequestBytes + 1}\r\n\r\n`,
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
    expect(sent).toBeGreaterThan(config.maxTotalBytes);
    expect(sent).toBeLessThan(config.maxRequestBytes + 2 * 1024 * 1024);
    expect(await waitForEmpty(config.uploadDir)).toEqual([]);
    expect(fake.received).toHaveLength(0);
  });
});
