import { readdirSync, readlinkSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { wavOfSize } from '../helpers/fixtures.js';
import {
  buildService,
  deferred,
  listen,
  type ServiceUnderTest,
  startService,
  testConfig,
  waitForEmptyDir,
  waitUntil,
} from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';
import { rawConnect } from '../helpers/raw-client.js';

/** Spooled to disk whatever the size, so an empty folder means the files were removed. */
const SPOOL_ALL = { MEMORY_BUFFER_FILE_BYTES: '0' };

/** A real WAV of about `size` bytes of samples. */
const wav = (size: number) => wavOfSize(size + 44);

/** A raw clone request: its head and its multipart body. */
function rawClone(parts: Parameters<typeof multipart>[0]) {
  const { body, contentType } = multipart(parts);
  const head = `POST /api/voices/clone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
  return { head, body, all: Buffer.concat([Buffer.from(head), body]) };
}

describe('no spooled upload outlives its request', () => {
  let svc: ServiceUnderTest;
  beforeAll(async () => {
    svc = await startService({ env: { MAX_FILE_BYTES: String(2 * 1024 * 1024), ...SPOOL_ALL } });
  });
  afterAll(() => svc.close());

  it('a client that stops at any point of the upload leaves no file', async () => {
    const { all, head } = rawClone([
      { field: 'name', value: 'Aborted' },
      { field: 'files', filename: 'a.wav', data: wav(600_000) },
      { field: 'files', filename: 'b.wav', data: wav(600_000) },
    ]);
    // Points spread evenly over the request (the same every run), inside the first part's
    // headers, and just before the end.
    const cuts = Array.from({ length: 12 }, (_, i) => Math.floor(((i + 0.5) / 12) * all.length));
    cuts.push(head.length + 200, all.length - 10);
    await Promise.all(
      cuts.map(async (cut) => {
        const client = await rawConnect(svc.url);
        await client.write(all.subarray(0, cut));
        client.destroy();
        await client.closed;
      }),
    );
    expect(await waitForEmptyDir(svc.config.uploadDir)).toEqual([]);
    expect(svc.fake.received).toHaveLength(0);
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
    // backpressure part-way through a 12 MB base64 body (the size is the point: past socket buffers).
    const reached = deferred();
    const stalled = await listen((req: IncomingMessage) => {
      reached.resolve();
      req.pause();
    });
    const config = testConfig({
      MAX_FILE_BYTES: String(10 * 1024 * 1024),
      UPSTREAM_TIMEOUT_MS: '60000',
      ...SPOOL_ALL,
    });
    const built = buildService(config, stalled.url);
    const server = await listen(built.app);
    try {
      const { all } = rawClone([
        { field: 'name', value: 'Gone' },
        { field: 'files', filename: 'big.wav', data: wav(9 * 1024 * 1024) },
      ]);
      const client = await rawConnect(server.url);
      void client.write(all);
      await reached.promise;
      expect(descriptorsInto(config.uploadDir)).toHaveLength(1); // the body stream is reading it
      client.destroy();
      expect(await waitForEmptyDir(config.uploadDir)).toEqual([]);
      expect(descriptorsInto(config.uploadDir)).toEqual([]);
      // The stopped attempt settles: the request ends as a client that left, not as a fault.
      await waitUntil('the stop logged', () =>
        built.log.lines.some((l) => String(l.msg).startsWith('the client went away')),
      );
      expect(built.log.lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
    } finally {
      await server.close();
      await stalled.close();
    }
  });
});
