import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  audio,
  buildService,
  type FakeUpstream,
  listen,
  startFakeUpstream,
  testConfig,
} from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * A client that sends a request head with `Expect: 100-continue` and holds its body back, as curl
 * does for large uploads: it sends the body only once `100 Continue` arrives (or never).
 */
function waitingClient(url: string, head: string, body?: Buffer) {
  const { port } = new URL(url);
  let text = '';
  let bodySent = false;
  const socket = connect(Number(port), '127.0.0.1', () => socket.write(head));
  socket.on('error', () => undefined);
  const closed = new Promise<boolean>((resolve) => {
    socket.on('close', () => resolve(true));
    // Bounded: a server that lingers for a body that will never come fails the test, not hangs it.
    setTimeout(() => resolve(false), 3000).unref();
  });
  socket.on('data', (c) => {
    text += String(c);
    if (body && !bodySent && text.startsWith(CONTINUE)) {
      bodySent = true;
      socket.write(body);
    }
  });
  return {
    /** Resolves once the server closed the connection (true), or after 3 s (false), with what it sent. */
    done: async () => {
      const wasClosed = await closed;
      socket.destroy();
      return { closed: wasClosed, text, bodySent };
    },
  };
}

const upload = () =>
  multipart([
    { field: 'name', value: 'Continued' },
    { field: 'files', filename: 'a.mp3', data: readFileSync(audio('sample.mp3')) },
  ]);

/** A clone request head that expects 100-continue; `extra` adds header lines. */
function cloneHead(contentType: string, length: number, extra = '', path = '/api/voices/clone'): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\n` +
    `Content-Length: ${length}\r\nExpect: 100-continue\r\n${extra}\r\n`
  );
}

/** A refusal decided from the head alone: the final answer, never a 100, and the connection closed. */
function expectRefusedAtOnce(result: { closed: boolean; text: string }, status: number, code: string) {
  expect(result.text).not.toContain('100 Continue');
  expect(result.text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(result.text).toMatch(/\r\nconnection: close\r\n/i);
  expect(result.text).toContain(`"code":"${code}"`);
  expect(result.closed).toBe(true);
}

describe('Expect: 100-continue', () => {
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = await startFakeUpstream();
  });
  afterAll(() => fake.close());

  /** The service on a server made as main.ts makes it; `prepare` can change it before the request. */
  async function serve(env: Record<string, string> = {}) {
    const service = buildService(testConfig(env), fake.url);
    const server = await listen(service.app);
    return { ...service, server };
  }

  it('an upload it will read gets 100 Continue, then sends its body, then gets 201', async () => {
    const { server } = await serve();
    try {
      const { body, contentType } = upload();
      const before = fake.received.length;
      const client = waitingClient(
        server.url,
        cloneHead(contentType, body.length, 'Connection: close\r\n'),
        body,
      );
      const { text, bodySent } = await client.done();
      expect(bodySent).toBe(true);
      expect(text.startsWith(CONTINUE)).toBe(true);
      expect(text.split('100 Continue')).toHaveLength(2); // exactly one
      expect(text.slice(CONTINUE.length)).toMatch(/^HTTP\/1\.1 201 /);
      expect(fake.received.length).toBe(before + 1);
    } finally {
      await server.close();
    }
  });

  const { body: anUpload, contentType: multipartType } = upload();
  const refused: [string, Record<string, string>, string, number, string][] = [
    [
      'a foreign origin (403)',
      {},
      cloneHead(multipartType, anUpload.length, 'Origin: https://evil.example\r\n'),
      403,
      'origin_not_allowed',
    ],
    [
      'no token when tokens are required (401)',
      { CLIENT_TOKENS: 'tok_continue_0123456789' },
      cloneHead(multipartType, anUpload.length),
      401,
      'unauthorized',
    ],
    [
      'a wrong token (401)',
      { CLIENT_TOKENS: 'tok_continue_0123456789' },
      cloneHead(multipartType, anUpload.length, 'Authorization: Bearer tok_wrong_wrong_wrong\r\n'),
      401,
      'unauthorized',
    ],
    [
      'a declared Content-Length over the limits (413)',
      { MAX_TOTAL_BYTES: '100000' },
      cloneHead(multipartType, 10_000_000),
      413,
      'payload_too_large',
    ],
    ['not multipart (415)', {}, cloneHead('application/json', 5000), 415, 'unsupported_media_type'],
    [
      'a malformed Idempotency-Key (400)',
      {},
      cloneHead(multipartType, anUpload.length, `Idempotency-Key: ${'k'.repeat(256)}\r\n`),
      400,
      'invalid_request',
    ],
    [
      // A refused body is normally read before the answer when the client asked to close: not this one.
      'a foreign origin, the client asking for Connection: close (403)',
      {},
      cloneHead(multipartType, anUpload.length, 'Origin: https://evil.example\r\nConnection: close\r\n'),
      403,
      'origin_not_allowed',
    ],
    [
      'no route (404)',
      {},
      cloneHead(multipartType, anUpload.length, '', '/api/voices/nothing'),
      404,
      'not_found',
    ],
  ];

  it.each(refused)(
    '%s: answered at once, never 100, connection closed',
    async (_what, env, head, status, code) => {
      const { server } = await serve(env);
      try {
        const before = fake.received.length;
        expectRefusedAtOnce(await waitingClient(server.url, head).done(), status, code);
        expect(fake.received.length).toBe(before);
      } finally {
        await server.close();
      }
    },
  );

  it('draining (503): answered at once, never 100, connection closed', async () => {
    const { server, lifecycle } = await serve();
    try {
      lifecycle.draining = true;
      expectRefusedAtOnce(
        await waitingClient(server.url, cloneHead(multipartType, anUpload.length)).done(),
        503,
        'shutting_down',
      );
    } finally {
      await server.close();
    }
  });

  it('over the inbound rate limit (429): answered at once, never 100, connection closed', async () => {
    const { server } = await serve({ RATE_LIMIT_MAX: '1' });
    try {
      const { body, contentType } = upload();
      const first = await waitingClient(
        server.url,
        cloneHead(contentType, body.length, 'Connection: close\r\n'),
        body,
      ).done();
      expect(first.text.slice(CONTINUE.length)).toMatch(/^HTTP\/1\.1 201 /);
      expectRefusedAtOnce(
        await waitingClient(server.url, cloneHead(contentType, body.length)).done(),
        429,
        'rate_limited',
      );
    } finally {
      await server.close();
    }
  });

  it("without the service's server (Node answers 100 itself, as under supertest) it still works, with one 100", async () => {
    const { app } = buildService(testConfig(), fake.url);
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const { body, contentType } = upload();
      const { text } = await waitingClient(
        url,
        cloneHead(contentType, body.length, 'Connection: close\r\n'),
        body,
      ).done();
      expect(text.split('100 Continue')).toHaveLength(2);
      expect(text.slice(CONTINUE.length)).toMatch(/^HTTP\/1\.1 201 /);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
