import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { audio, buildService, listen, type Running, testConfig } from '../helpers/kit.js';

/** SPEC "Errors": an answer larger than UPSTREAM_MAX_RESPONSE_BYTES is 502 upstream_invalid_response. */

const MiB = 1024 * 1024;
// 300 MiB of zeros, gzipped once for the whole suite: about 300 KiB on the wire.
const bomb = gzipSync(Buffer.alloc(300 * MiB), { level: 9 });

/** Writes `total` bytes of a JSON-looking body as fast as the reader takes them. */
function stream(res: ServerResponse, total: number) {
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  res.write('{"data":{"id":"voice_huge","name":"');
  pump();
}

describe('an oversized upstream answer', () => {
  let upstream: Running;
  let calls = 0;
  let mode: { status: number; kind: 'huge' | 'bomb' | 'small' } = { status: 201, kind: 'huge' };
  beforeAll(async () => {
    upstream = await listen((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        calls++;
        res.on('error', () => undefined);
        if (mode.kind === 'bomb') {
          res.writeHead(mode.status, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
          res.end(bomb);
        } else if (mode.kind === 'huge') {
          res.writeHead(mode.status, { 'content-type': 'application/json' });
          stream(res, 300 * MiB);
        } else {
          res.writeHead(mode.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ data: { id: 'voice_ok', name: 'x'.repeat(900 * 1024) } }));
        }
      });
    });
  });
  afterAll(() => upstream.close());

  it.each([
    [201, 'huge', 'a 300 MiB 201'],
    [201, 'bomb', 'a gzip bomb 201 (300 MiB inflated)'],
    [400, 'huge', 'a 300 MiB 400'],
    [429, 'bomb', 'a gzip bomb 429'],
  ] as const)(
    '%i %s (%s): 502 upstream_invalid_response, one call, never retried',
    async (status, kind, _what) => {
      mode = { status, kind };
      const { app, log } = buildService(testConfig(), upstream.url);
      const before = calls;
      const res = await request(app)
        .post('/api/voices/clone')
        .set('Idempotency-Key', `cap-${status}-${kind}`)
        .field('name', 'n')
        .attach('files', audio('sample.mp3'));
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_invalid_response');
      expect(res.body.error.details).toMatchObject({ limit: 'UPSTREAM_MAX_RESPONSE_BYTES', value: MiB });
      expect(res.headers['x-upstream-attempts']).toBe('1');
      expect(calls - before).toBe(1);
      const logged = log.lines.find((l) => String(l.msg).includes('UPSTREAM_MAX_RESPONSE_BYTES'));
      expect(logged?.level).toBe(50);
      if (status === 201) expect(String(logged?.msg)).toContain('a voice may have been created');
    },
  );

  it('an answer just under the cap is read whole', async () => {
    mode = { status: 201, kind: 'small' };
    const { app } = buildService(testConfig(), upstream.url);
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(201);
    expect(res.body.data.id).toBe('voice_ok');
  });

  it('a read (GET /api/voices/:id) is capped the same way and not retried either', async () => {
    mode = { status: 200, kind: 'bomb' };
    const { app } = buildService(testConfig(), upstream.url);
    const before = calls;
    const res = await request(app).get('/api/voices/voice_huge');
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_invalid_response');
    expect(calls - before).toBe(1);
  });
});
