import { describe, expect, it } from '@jest/globals';
import { waitUntil, withService } from '../helpers/kit.js';
import { rawConnect } from '../helpers/raw-client.js';

/** The head of a clone request the origin guard refuses; its own headers follow. */
const REFUSED_HEAD = 'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n';
const MULTIPART = 'Content-Type: multipart/form-data; boundary=b\r\n';

describe('a refused upload whose body is still on its way (RFC 9112 §9.6 lingering close)', () => {
  const body = Buffer.alloc(200_000, 0x61);

  it('is answered at once and read to its end after: no reset, and the connection serves the next request', () =>
    withService({}, async ({ url }) => {
      const client = await rawConnect(url);
      await client.write(`${REFUSED_HEAD}${MULTIPART}Content-Length: ${body.length}\r\n\r\n`);
      await client.write(body.subarray(0, 1000));
      // The answer comes before the body is done; the rest follows, as from a browser or a
      // form-data stream still busy reading its file; then the connection is used again.
      await client.waitFor('origin_not_allowed');
      await client.write(body.subarray(1000));
      await client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.waitFor(/HTTP\/1\.1 200[\s\S]*"status":"ok"/);
      client.end();
      const end = await client.closed;
      expect(end.error).toBeUndefined();
      expect(end.text).toMatch(/^HTTP\/1\.1 403/);
    }));

  it('from a client that asked for Connection: close, is answered once its body is in, so the close cannot reset it', () =>
    withService({}, async ({ url, inbound }) => {
      // allowHalfOpen: the client goes on writing after a FIN from the server, as real ones may.
      const client = await rawConnect(url, { allowHalfOpen: true });
      const head = `${REFUSED_HEAD}Connection: close\r\n${MULTIPART}Content-Length: ${body.length}\r\n\r\n`;
      await client.write(head);
      await client.write(body.subarray(0, 1000));
      // The server has read the head and the first piece, and has decided: it holds its answer.
      await waitUntil(
        'the server to read the first piece',
        () => (inbound[0]?.req.socket.bytesRead ?? 0) >= head.length + 1000,
      );
      await new Promise((r) => setImmediate(r));
      expect(inbound[0]?.res.headersSent).toBe(false);
      expect(client.text).toBe('');

      await client.write(body.subarray(1000));
      client.end();
      const end = await client.closed;
      expect(end.error).toBeUndefined();
      expect(end.text).toMatch(/^HTTP\/1\.1 403/);
      expect(end.text).toContain('origin_not_allowed');
      // The first byte of the answer came only after the last byte of the body had gone.
      expect(client.sentBeforeAnswer).toBe(head.length + body.length);
    }));
});

/** Sends a refused request's head, then `piece` every `everyMs`; resolves once the server closes. */
function trickle(
  headers: string,
  piece: Buffer,
  everyMs: number,
  env: Record<string, string>,
  lingerMs?: number,
) {
  return withService({ env, service: { lingerMs } }, async ({ url }) => {
    const client = await rawConnect(url);
    await client.write(`${REFUSED_HEAD}${headers}\r\n`);
    client.trickle(piece, everyMs);
    return client.closed;
  });
}

describe('a refused body is read only within bounds', () => {
  it('a body declared larger than any upload: answered, and the connection closed after it', async () => {
    const end = await trickle(`${MULTIPART}Content-Length: 100000000\r\n`, Buffer.alloc(1024), 5, {});
    expect(end.text).toMatch(/^HTTP\/1\.1 403/);
    expect(end.text).toContain('origin_not_allowed');
    expect(end.afterMs).toBeLessThan(2000);
  });

  // The linger bound is the server's own wall-clock timer (not the service clock): real time,
  // kept small (300 ms).
  it('a body that does not finish in time: answered, then cut when the linger time is up', async () => {
    const end = await trickle(
      `${MULTIPART}Content-Length: 90000\r\n`,
      Buffer.alloc(10, 0x61),
      20,
      { MAX_TOTAL_BYTES: '100000' },
      300,
    );
    expect(end.text).toMatch(/^HTTP\/1\.1 403/);
    expect(end.afterMs).toBeGreaterThanOrEqual(250);
    expect(end.afterMs).toBeLessThan(2000);
  });

  it('a chunked body that grows past what an upload may be: answered, then cut (long before the linger time)', async () => {
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x61), Buffer.from('\r\n')]);
    const end = await trickle(
      `${MULTIPART}Transfer-Encoding: chunked\r\n`,
      chunk,
      2,
      { MAX_TOTAL_BYTES: '100000' },
      60_000,
    );
    expect(end.text).toMatch(/^HTTP\/1\.1 403/);
    expect(end.afterMs).toBeLessThan(5000);
    // Cut once it passed the largest acceptable request (MAX_TOTAL_BYTES + 1 MiB of framing), not drained.
    expect(end.bytesSent).toBeGreaterThan(100_000 + 1024 * 1024);
  });
});
