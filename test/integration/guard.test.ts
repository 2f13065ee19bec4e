import { connect } from 'node:net';
import { describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import {
  audio,
  buildService,
  listen,
  type Running,
  startFakeUpstream,
  suiteFakeUpstream,
  testConfig,
} from '../helpers/kit.js';

const TOKEN_A = 'tok_internal_service_a_0001';
const TOKEN_B = 'tok_internal_service_b_0002';

describe('client tokens (CLIENT_TOKENS)', () => {
  const fake = suiteFakeUpstream();
  const build = () => buildService(testConfig({ CLIENT_TOKENS: `${TOKEN_A},${TOKEN_B}` }), fake.url);

  it.each([
    ['no Authorization', undefined],
    ['a wrong token', 'Bearer tok_wrong_wrong_wrong_000'],
    ['a prefix of a token', `Bearer ${TOKEN_A.slice(0, -1)}`],
    ['another scheme', `Basic ${TOKEN_A}`],
  ])('%s: 401 unauthorized, nothing upstream', async (_what, authorization) => {
    const { app } = build();
    const before = fake.received.length;
    let req = request(app).post('/api/voices/clone').field('name', 'n').attach('files', audio('sample.mp3'));
    if (authorization) req = req.set('Authorization', authorization);
    const res = await req;
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(fake.received.length).toBe(before);
  });

  it('any configured token passes; GET /api/* needs one too', async () => {
    const { app } = build();
    for (const t of [TOKEN_A, TOKEN_B]) {
      const res = await request(app)
        .post('/api/voices/clone')
        .set('Authorization', `Bearer ${t}`)
        .field('name', 'n')
        .attach('files', audio('sample.mp3'));
      expect(res.status).toBe(201);
    }
    expect((await request(app).get('/api/voices/v1')).status).toBe(401);
  });

  it('health, readiness, metrics and the form stay open', async () => {
    const { app } = build();
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect((await request(app).get(path)).status).toBe(200);
  });

  it('tokens never reach the log', async () => {
    const { app, log } = build();
    await request(app).post('/api/voices/clone').set('Authorization', `Bearer ${TOKEN_A}`).field('name', 'n');
    await request(app).post('/api/voices/clone').set('Authorization', 'Bearer tok_wrong_wrong_wrong_000');
    expect(log.text()).not.toContain(TOKEN_A);
    expect(log.text()).not.toContain('tok_wrong');
  });
});

describe('browsers: CORS and the CSRF guard', () => {
  const fake = suiteFakeUpstream();
  const build = () => buildService(testConfig({ ALLOWED_ORIGINS: 'https://forms.example.com' }), fake.url);

  it('a POST from a foreign origin is 403 before the body is read or anything goes upstream', async () => {
    const { app } = build();
    const res = await request(app)
      .post('/api/voices/clone')
      .set('Origin', 'https://evil.example')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('origin_not_allowed');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(fake.received).toHaveLength(0);
  });

  it('Origin: null (sandboxed frames, file://) is refused', async () => {
    const { app } = build();
    const res = await request(app).post('/api/voices/clone').set('Origin', 'null').field('name', 'n');
    expect(res.status).toBe(403);
  });

  it('an allowed origin gets CORS headers; its preflight is answered', async () => {
    const { app } = build();
    const pre = await request(app)
      .options('/api/voices/clone')
      .set('Origin', 'https://forms.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'idempotency-key');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://forms.example.com');
    expect(pre.headers['access-control-allow-methods']).toContain('POST');
    expect(pre.headers['access-control-allow-headers']).toContain('Idempotency-Key');
    expect(pre.headers.vary).toContain('Origin');

    const res = await request(app)
      .post('/api/voices/clone')
      .set('Origin', 'https://forms.example.com')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(201);
    expect(res.headers['access-control-allow-origin']).toBe('https://forms.example.com');
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
  });

  it('a preflight from a foreign origin is refused', async () => {
    const { app } = build();
    const pre = await request(app)
      .options('/api/voices/clone')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('same-origin and Origin-less (server-to-server) requests pass', async () => {
    const { app } = build();
    const server: Running = await (await import('../helpers/kit.js')).listen(app);
    try {
      const form = new FormData();
      form.append('name', 'n');
      form.append(
        'files',
        new Blob([await (await import('node:fs/promises')).readFile(audio('sample.mp3'))]),
        'a.mp3',
      );
      const same = await fetch(`${server.url}/api/voices/clone`, {
        method: 'POST',
        body: form,
        headers: { Origin: server.url },
      });
      expect(same.status).toBe(201);
      expect(same.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await server.close();
    }
    const none = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(none.status).toBe(201);
  });
});

describe('inbound rate limit on clones', () => {
  const fake = suiteFakeUpstream();

  it('the N+1th clone from one client is 429 rate_limited with RateLimit and Retry-After headers', async () => {
    const warn = jest.spyOn(console, 'warn');
    const error = jest.spyOn(console, 'error');
    const { app, log } = buildService(
      testConfig({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' }),
      fake.url,
    );
    const send = () =>
      request(app).post('/api/voices/clone').field('name', 'n').attach('files', audio('sample.mp3'));
    const first = await send();
    expect(first.status).toBe(201);
    expect(first.headers.ratelimit).toMatch(/"clone"; r=1; t=\d+/);
    expect(first.headers['ratelimit-policy']).toMatch(/"clone"; q=2; w=60/);
    expect((await send()).status).toBe(201);
    const before = fake.received.length;
    const third = await send();
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limited');
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(third.headers['content-type']).toMatch(/^application\/json/);
    expect(fake.received.length).toBe(before);
    // GET reads are not limited by the clone limit.
    expect((await request(app).get('/healthz')).status).toBe(200);
    // express-rate-limit reports its ERR_ERL_* validation warnings on the console.
    expect(log.text()).not.toContain('ERR_ERL_');
    expect([...warn.mock.calls, ...error.mock.calls].flat().join(' ')).not.toContain('ERR_ERL_');
    warn.mockRestore();
    error.mockRestore();
  });

  it('counts per token when tokens are used; refused requests (401, 403) do not count', async () => {
    const { app } = buildService(
      testConfig({
        RATE_LIMIT_MAX: '1',
        CLIENT_TOKENS: `${TOKEN_A},${TOKEN_B}`,
        ALLOWED_ORIGINS: 'https://forms.example.com',
      }),
      fake.url,
    );
    const send = (token?: string) => {
      let r = request(app).post('/api/voices/clone').field('name', 'n').attach('files', audio('sample.mp3'));
      if (token) r = r.set('Authorization', `Bearer ${token}`);
      return r;
    };
    for (let i = 0; i < 3; i++) expect((await send()).status).toBe(401);
    for (let i = 0; i < 3; i++) {
      const foreign = await send(TOKEN_A).set('Origin', 'https://evil.example');
      expect(foreign.status).toBe(403);
    }
    expect((await send(TOKEN_A)).status).toBe(201);
    expect((await send(TOKEN_A)).status).toBe(429);
    expect((await send(TOKEN_B)).status).toBe(201);
  });

  it('counts per client IP behind a trusted proxy (TRUST_PROXY)', async () => {
    const { app } = buildService(testConfig({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' }), fake.url);
    const send = (ip: string) =>
      request(app)
        .post('/api/voices/clone')
        .set('X-Forwarded-For', ip)
        .field('name', 'n')
        .attach('files', audio('sample.mp3'));
    expect((await send('203.0.113.7')).status).toBe(201);
    expect((await send('203.0.113.7')).status).toBe(429);
    expect((await send('203.0.113.8')).status).toBe(201);
  });
});

/** The head of a clone request the origin guard refuses; its own headers follow. */
const REFUSED_HEAD = 'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n';

/** Runs `talk` against the service (on a fake upstream) on a port of its own, then stops both. */
async function withService<T>(
  talk: (port: number) => Promise<T>,
  env: Record<string, string> = {},
  lingerMs?: number,
): Promise<T> {
  const fake = await startFakeUpstream();
  const server = await listen(buildService(testConfig(env), fake.url, { lingerMs }).app);
  try {
    return await talk(Number(new URL(server.url).port));
  } finally {
    await server.close();
    await fake.close();
  }
}

describe('a refused upload whose body is still on its way', () => {
  it('is read to its end after the answer: no reset, and the connection serves the next request', async () => {
    const body = Buffer.alloc(200_000, 0x61);
    const outcome = await withService(
      (port) =>
        new Promise<{ text: string; error?: string }>((resolve) => {
          let text = '';
          let sentRest = false;
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(
              `${REFUSED_HEAD}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: ${body.length}\r\n\r\n`,
            );
            socket.write(body.subarray(0, 1000));
          });
          socket.on('data', (c) => {
            text += String(c);
            // The answer came before the body was done: send the rest, as a browser or form-data
            // stream still busy reading its file does, then reuse the connection.
            if (!sentRest && text.includes('origin_not_allowed')) {
              sentRest = true;
              setTimeout(() => {
                socket.write(body.subarray(1000), () =>
                  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
                );
              }, 50);
            }
            if (/HTTP\/1\.1 200/.test(text)) {
              socket.end();
              resolve({ text });
            }
          });
          socket.on('error', (e) => resolve({ text, error: (e as NodeJS.ErrnoException).code }));
          socket.on('close', () => resolve({ text, error: 'closed' }));
        }),
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.text).toMatch(/^HTTP\/1\.1 403/);
    expect(outcome.text).toMatch(/HTTP\/1\.1 200[\s\S]*"status":"ok"/);
  });
});

describe('a refused upload from a client that asked for Connection: close', () => {
  it('is answered once its body is in, so the close that follows cannot reset it', async () => {
    const body = Buffer.alloc(200_000, 0x61);
    let restSentAt = 0;
    const outcome = await withService(
      (port) =>
        new Promise<{ text: string; error?: string; answeredAt: number }>((resolve) => {
          let text = '';
          let answeredAt = 0;
          // allowHalfOpen: the client goes on writing after a FIN from the server, as real ones may.
          const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
            socket.write(
              `${REFUSED_HEAD}Connection: close\r\nContent-Type: multipart/form-data; boundary=b\r\n` +
                `Content-Length: ${body.length}\r\n\r\n`,
            );
            socket.write(body.subarray(0, 1000));
            // The rest comes later, as from a client still reading its file.
            setTimeout(() => {
              restSentAt = Date.now();
              socket.write(body.subarray(1000), () => socket.end());
            }, 150);
          });
          socket.on('data', (c) => {
            answeredAt ||= Date.now();
            text += String(c);
          });
          socket.on('error', (e) => resolve({ text, error: (e as NodeJS.ErrnoException).code, answeredAt }));
          socket.on('close', () => resolve({ text, answeredAt }));
        }),
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.text).toMatch(/^HTTP\/1\.1 403/);
    expect(outcome.text).toContain('origin_not_allowed');
    expect(restSentAt).toBeGreaterThan(0);
    expect(outcome.answeredAt).toBeGreaterThanOrEqual(restSentAt);
  });
});

/** Sends a refused request's headers, then `piece` every 20 ms; resolves when the server closes. */
function trickle(headers: string, piece: Buffer, env: Record<string, string> = {}, lingerMs?: number) {
  return withService(
    (port) =>
      new Promise<{ answer: string; closedAfter: number }>((resolve) => {
        const started = Date.now();
        let answer = '';
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`${REFUSED_HEAD}${headers}\r\n`);
          const timer = setInterval(() => socket.write(piece), 20);
          socket.on('close', () => {
            clearInterval(timer);
            resolve({ answer, closedAfter: Date.now() - started });
          });
        });
        socket.on('data', (c) => {
          answer += String(c);
        });
        socket.on('error', () => undefined);
      }),
    env,
    lingerMs,
  );
}

describe('a refused body is read only within bounds', () => {
  it('a body declared larger than any upload: answered, and the connection closed after it', async () => {
    const { answer, closedAfter } = await trickle(
      'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n',
      Buffer.alloc(1024),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(answer).toContain('origin_not_allowed');
    expect(closedAfter).toBeLessThan(2000);
  });

  it('a body that does not finish in time: answered, then cut when the linger time is up', async () => {
    const { answer, closedAfter } = await trickle(
      'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 90000\r\n',
      Buffer.alloc(10, 0x61),
      { MAX_TOTAL_BYTES: '100000' },
      300,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(closedAfter).toBeGreaterThanOrEqual(250);
    expect(closedAfter).toBeLessThan(2000);
  });

  it('a chunked body that grows past what an upload may be: answered, then cut', async () => {
    const { answer, closedAfter } = await trickle(
      'Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n',
      Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x61), Buffer.from('\r\n')]),
      { MAX_TOTAL_BYTES: '100000' },
      60_000,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(closedAfter).toBeLessThan(5000);
  });
});
