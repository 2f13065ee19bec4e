import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { filesIn, type ServiceUnderTest, startService, waitForEmptyDir } from '../helpers/kit.js';
import { rawConnect } from '../helpers/raw-client.js';

const HEAD =
  'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n';

describe('bodies larger than any acceptable upload (SPEC 413 payload_too_large)', () => {
  let svc: ServiceUnderTest;
  beforeAll(async () => {
    svc = await startService({ env: { MAX_TOTAL_BYTES: '100000', MEMORY_BUFFER_FILE_BYTES: '0' } });
  });
  afterAll(() => svc.close());

  /** Writes `head`, then `piece` every `everyMs` until the server closes. */
  async function push(head: string, piece: Buffer, everyMs: number) {
    const client = await rawConnect(svc.url);
    await client.write(head);
    const headBytes = client.bytesSent;
    client.trickle(piece, everyMs);
    const end = await client.closed;
    return { answer: end.text, sent: end.bytesSent - headBytes };
  }

  it('a declared Content-Length over the limit: 413 at once, before a byte is read', async () => {
    const { answer, sent } = await push(
      `${HEAD}Content-Length: ${svc.config.limits.maxRequestBytes + 1}\r\n\r\n`,
      Buffer.alloc(1024),
      5,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('"limit":"MAX_TOTAL_BYTES"');
    expect(sent).toBeLessThan(64 * 1024);
    expect(filesIn(svc.config.uploadDir)).toEqual([]);
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
      `${HEAD}Transfer-Encoding: chunked\r\n\r\n${chunk(start).toString('latin1')}`,
      chunk(Buffer.alloc(32 * 1024, 7)),
      1,
    );
    // Cut soon after the largest acceptable body, not left to drain until the request timeout.
    expect(sent).toBeGreaterThan(svc.config.limits.maxTotalBytes);
    expect(sent).toBeLessThan(svc.config.limits.maxRequestBytes + 2 * 1024 * 1024);
    expect(await waitForEmptyDir(svc.config.uploadDir)).toEqual([]);
    expect(svc.fake.received).toHaveLength(0);
  });
});
