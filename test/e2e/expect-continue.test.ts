import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { audio, type FakeUpstream, startFakeUpstream, TEST_KEY, tempDir } from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';
import { type ServiceProcess, startServiceProcess } from '../helpers/process.js';

/** Sends a head with `Expect: 100-continue`; sends `body` only if 100 arrives; resolves when the server closes (or after 3 s). */
function ask(url: string, head: string, body?: Buffer): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(head));
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('data', (c) => {
      text += String(c);
      if (body && text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write(body);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

describe('the service process decides on Expect: 100-continue itself (main.ts)', () => {
  let fake: FakeUpstream;
  let svc: ServiceProcess;
  beforeAll(async () => {
    fake = await startFakeUpstream();
    svc = await startServiceProcess({
      TRUEDY_API_KEY: TEST_KEY,
      TRUEDY_BASE_URL: fake.url,
      UPLOAD_DIR: tempDir(),
      UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
      CLIENT_TOKENS: 'tok_process_0123456789',
    });
  });
  afterAll(async () => {
    await svc.stop();
    await fake.close();
  });

  const { body, contentType } = multipart([
    { field: 'name', value: 'Process' },
    { field: 'files', filename: 'a.mp3', data: readFileSync(audio('sample.mp3')) },
  ]);
  const head = (auth: string) =>
    `POST /api/voices/clone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\n` +
    `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n${auth}Connection: close\r\n\r\n`;

  it('no token: 401 at once, no 100, so the body is never sent', async () => {
    const text = await ask(svc.url, head(''), body);
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text).not.toContain('100 Continue');
    expect(fake.received).toHaveLength(0);
  });

  it('a valid token: 100 Continue, the body, then 201', async () => {
    const text = await ask(svc.url, head('Authorization: Bearer tok_process_0123456789\r\n'), body);
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
    expect(fake.received).toHaveLength(1);
  });
});
