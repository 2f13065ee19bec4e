import { readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import {
  audio,
  buildService,
  type FakeUpstream,
  filesIn,
  hasRawControl,
  notAudio,
  type Running,
  startSandbox,
  suiteFakeUpstream,
  TEST_KEY,
  testConfig,
} from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';

const upstreamBody = (fake: Pick<FakeUpstream, 'received'>, i = -1) =>
  JSON.parse(fake.received.at(i)?.body.toString('utf8') ?? 'null') as {
    name: string;
    files: { filename: string; data: string; content_type: string }[];
  };

describe('POST /api/voices/clone against the sandbox', () => {
  let sandbox: Running;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());

  it('answers 201 with the normalized voice, request id and attempts', async () => {
    const { app, config, memoryBudget } = buildService(testConfig(), sandbox.url);
    const res = await request(app)
      .post('/api/voices/clone')
      .set('X-Request-Id', 'form-42')
      .field('name', '  Test  ')
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toBe('form-42');
    expect(res.headers['x-upstream-attempts']).toBe('1');
    expect(Object.keys(res.body.data).sort()).toEqual(
      [
        'id',
        'name',
        'provider',
        'type',
        'language',
        'status',
        'created_at',
        'updated_at',
        'gender',
        'accent',
        'preview_url',
      ].sort(),
    );
    expect(res.body.data).toMatchObject({ name: 'Test', status: 'training', type: 'custom' });
    expect(res.body.data.id).toMatch(/^voice_/);
    expect(res.body.meta).toMatchObject({ request_id: 'form-42', upstream_request_id: expect.any(String) });
    expect(Date.parse(res.body.meta.ts)).not.toBeNaN();
    expect(filesIn(config.uploadDir)).toEqual([]);
    expect(memoryBudget.inUse).toBe(0);
  });

  it('normalizes both of the sandbox shapes to the same fields', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const shapes = [];
    for (let i = 0; i < 2; i++) {
      const res = await request(app)
        .post('/api/voices/clone')
        .field('name', 'V')
        .attach('files', audio('sample.wav'));
      expect(res.status).toBe(201);
      shapes.push(res.body.data);
    }
    const withPreview = shapes.find((v) => v.preview_url !== null);
    const plain = shapes.find((v) => v.preview_url === null);
    expect(withPreview).toMatchObject({
      gender: 'female',
      accent: 'American',
      type: 'custom',
      status: 'training',
    });
    expect(withPreview.updated_at).toBe(withPreview.created_at);
    expect(plain).toMatchObject({ gender: null, accent: null, provider: 'elevenlabs' });
  });

  it.each([
    ['[no-credits]', 402, 'insufficient_credits'],
    ['[invalid-audio]', 400, 'invalid_audio'],
    ['[server-error]', 502, 'upstream_error'],
  ])('relays the sandbox scenario %s as %i %s', async (tag, status, code) => {
    const { app } = buildService(testConfig(), sandbox.url);
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', `Voice ${tag}`)
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.headers['x-upstream-attempts']).toBe('1');
    if (status === 402)
      expect(res.body.error.details).toEqual({ required_credits: 100, current_balance: 50 });
  });

  it('a wrong server key is 502 upstream_auth_failed, logged as an error, key never shown', async () => {
    const { app, log } = buildService(testConfig({ TRUEDY_API_KEY: 'wrong_key_0123456789' }), sandbox.url);
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', 'V')
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_auth_failed');
    expect(log.lines.some((l) => l.level === 50 && String(l.msg).includes('TRUEDY_API_KEY'))).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('wrong_key');
    expect(log.text()).not.toContain('wrong_key_0123456789');
  });
});

describe('POST /api/voices/clone: what goes upstream', () => {
  const fake = suiteFakeUpstream();

  it('sends every fixture format as base64 JSON with the sniffed type, whatever the browser claimed', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const formats = {
      'sample.wav': 'audio/wav',
      'sample.mp3': 'audio/mpeg',
      'sample.m4a': 'audio/mp4',
      'sample.ogg': 'audio/ogg',
      'sample.webm': 'audio/webm',
      'sample.flac': 'audio/flac',
    };
    let req = request(app)
      .post('/api/voices/clone')
      .field('name', 'All formats')
      .set('X-Request-Id', 'rid-1');
    for (const f of Object.keys(formats)) req = req.attach('files', audio(f), { contentType: 'text/plain' });
    const res = await req;
    expect(res.status).toBe(201);
    const sent = fake.received.at(-1);
    expect(sent?.method).toBe('POST');
    expect(sent?.url).toBe('/voices/clone');
    expect(sent?.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers['x-request-id']).toBe('rid-1');
    expect(sent?.headers['transfer-encoding']).toBeUndefined();
    expect(Number(sent?.headers['content-length'])).toBe(sent?.body.length);
    const body = upstreamBody(fake);
    expect(body.name).toBe('All formats');
    expect(body.files.map((f) => [f.filename, f.content_type])).toEqual(Object.entries(formats));
    for (const f of body.files) {
      expect(Buffer.from(f.data, 'base64').equals(readFileSync(audio(f.filename)))).toBe(true);
    }
  });

  it('accepts files[] as the same field', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files[]', audio('sample.ogg'))
      .attach('files', audio('sample.flac'));
    expect(res.status).toBe(201);
    expect(upstreamBody(fake).files.map((f) => f.filename)).toEqual(['sample.flac', 'sample.ogg']);
  });

  it.each([
    ['raw', 'Ünïcødé "quoted" C:\\voices\\take 1 🎙️.mp3'],
    ['rfc5987', 'line\u2028sep\ttab \\ back "q" 中文.mp3'],
  ])('filenames and names reach Truedy exactly as typed (%s)', async (encodeFilename, filename) => {
    const { app } = buildService(testConfig(), fake.url);
    const name = 'Ada "the voice" \\ Lovelace 🎙️\u2028';
    const { body, contentType } = multipart([
      { field: 'name', value: name },
      {
        field: 'files',
        filename,
        data: readFileSync(audio('sample.mp3')),
        encodeFilename: encodeFilename as 'raw',
      },
    ]);
    const res = await request(app).post('/api/voices/clone').set('Content-Type', contentType).send(body);
    expect(res.status).toBe(201);
    const raw = fake.received.at(-1)?.body.toString('utf8') ?? '';
    expect(hasRawControl(raw)).toBe(false);
    const sent = upstreamBody(fake);
    expect(sent.name).toBe(name.trim());
    expect(sent.files[0]?.filename).toBe(filename);
  });

  it('a 2xx without an id is 502 upstream_invalid_response; other odd 2xx bodies still answer the voice', async () => {
    const { app } = buildService(testConfig(), fake.url);
    fake.queue.push({ status: 201, body: { data: { name: 'no id' }, meta: {} } });
    const missing = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(missing.status).toBe(502);
    expect(missing.body.error.code).toBe('upstream_invalid_response');

    fake.queue.push({ status: 200, body: '<html>oops</html>' });
    const html = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(html.status).toBe(502);
    expect(html.body.error.code).toBe('upstream_invalid_response');

    fake.queue.push({ status: 201, body: { data: { id: 'v9', status: 'weird', type: 7 } } });
    const odd = await request(app)
      .post('/api/voices/clone')
      .field('name', 'Kept')
      .attach('files', audio('sample.mp3'));
    expect(odd.status).toBe(201);
    expect(odd.body.data).toMatchObject({ id: 'v9', name: 'Kept', status: 'training', type: 'custom' });
    expect(odd.body.meta.upstream_request_id).toBeNull();
  });

  it('a spooled file gone before the send is 500 internal_error at once: not retried, not blamed on Truedy', async () => {
    const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: '0' });
    const memory = createMemoryGate({ limit: 0, windowMs: 60_000 });
    // Something outside the service (a tmp cleaner, say) empties the spool folder while the
    // request waits for its send slot.
    const gate: UpstreamGate = {
      ...memory,
      reserve: async (now, deadline) => {
        for (const f of filesIn(config.uploadDir)) unlinkSync(path.join(config.uploadDir, f));
        return memory.reserve(now, deadline);
      },
    };
    const { app, log } = buildService(config, fake.url, { gate });
    const before = fake.received.length;
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files', audio('sample.wav'));
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    expect(fake.received.length).toBe(before);
    expect(log.lines.some((l) => l.level === 50 && /spooled upload/.test(JSON.stringify(l)))).toBe(true);
  });

  it('relays a 422 detail[] as details.errors', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const detail = [{ loc: ['body', 'files', 0, 'data'], msg: 'bad', type: 'value_error' }];
    fake.queue.push({ status: 422, body: { detail } });
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { errors: detail } });
  });
});

describe('POST /api/voices/clone: refused before anything goes upstream', () => {
  const fake = suiteFakeUpstream();

  const small = testConfig({ MAX_FILES: '2', MAX_FILE_BYTES: '20000', MAX_TOTAL_BYTES: '30000' });
  const mp3 = readFileSync(audio('sample.mp3')); // 8577 bytes
  const cases: [string, (r: request.Test) => request.Test, number, string, Record<string, unknown> | null][] =
    [
      ['no name', (r) => r.attach('files', audio('sample.mp3')), 400, 'invalid_request', null],
      [
        'a blank name',
        (r) => r.field('name', '   ').attach('files', audio('sample.mp3')),
        400,
        'invalid_request',
        null,
      ],
      [
        'a 101-character name',
        (r) => r.field('name', '🎙'.repeat(101)).attach('files', audio('sample.mp3')),
        400,
        'invalid_request',
        null,
      ],
      ['no files', (r) => r.field('name', 'n'), 400, 'invalid_request', null],
      [
        'an empty file',
        (r) => r.field('name', 'n').attach('files', Buffer.alloc(0), 'empty.mp3'),
        400,
        'invalid_request',
        { filename: 'empty.mp3' },
      ],
      [
        'an unexpected file field',
        (r) => r.field('name', 'n').attach('audio', audio('sample.mp3')),
        400,
        'invalid_request',
        null,
      ],
      [
        'a text file named .mp3',
        (r) =>
          r
            .field('name', 'n')
            .attach('files', audio('sample.mp3'))
            .attach('files', notAudio('text-named.mp3')),
        415,
        'unsupported_media_type',
        { filename: 'text-named.mp3' },
      ],
      [
        'a PNG',
        (r) => r.field('name', 'n').attach('files', notAudio('image.png'), { contentType: 'audio/mpeg' }),
        415,
        'unsupported_media_type',
        null,
      ],
      [
        'random bytes',
        (r) => r.field('name', 'n').attach('files', notAudio('random-bytes.bin')),
        415,
        'unsupported_media_type',
        null,
      ],
      [
        'more than MAX_FILES files',
        (r) =>
          r
            .field('name', 'n')
            .attach('files', mp3, 'a.mp3')
            .attach('files', mp3, 'b.mp3')
            .attach('files', mp3, 'c.mp3'),
        413,
        'payload_too_large',
        { limit: 'MAX_FILES', value: 2 },
      ],
      [
        'a file over MAX_FILE_BYTES',
        (r) => r.field('name', 'n').attach('files', Buffer.concat([mp3, mp3, mp3]), 'big.mp3'),
        413,
        'payload_too_large',
        { limit: 'MAX_FILE_BYTES', value: 20000, filename: 'big.mp3' },
      ],
      [
        'files over MAX_TOTAL_BYTES together',
        (r) =>
          r
            .field('name', 'n')
            .attach('files', Buffer.concat([mp3, mp3]), 'a.mp3')
            .attach('files', Buffer.concat([mp3, mp3]), 'b.mp3'),
        413,
        'payload_too_large',
        { limit: 'MAX_TOTAL_BYTES', value: 30000 },
      ],
    ];

  it.each(cases)('%s', async (_what, build, status, code, details) => {
    const { app, config, memoryBudget } = buildService(small, fake.url);
    const before = fake.received.length;
    const res = await build(request(app).post('/api/voices/clone'));
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.meta.request_id).toBe(res.headers['x-request-id']);
    if (details) expect(res.body.error.details).toMatchObject(details);
    expect(fake.received.length).toBe(before);
    await new Promise((r) => setTimeout(r, 20));
    expect(filesIn(config.uploadDir)).toEqual([]);
    expect(memoryBudget.inUse).toBe(0);
  });

  it('a body that is not multipart is 415', async () => {
    const { app } = buildService(small, fake.url);
    const res = await request(app).post('/api/voices/clone').send({ name: 'n', files: [] });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('truncated or malformed multipart is 400 invalid_request', async () => {
    const { app } = buildService(small, fake.url);
    const { body, contentType } = multipart([
      { field: 'name', value: 'n' },
      { field: 'files', filename: 'a.mp3', data: mp3 },
    ]);
    const truncated = await request(app)
      .post('/api/voices/clone')
      .set('Content-Type', contentType)
      .send(body.subarray(0, body.length - 30));
    expect(truncated.status).toBe(400);
    expect(truncated.body.error.code).toBe('invalid_request');
    const noBoundary = await request(app)
      .post('/api/voices/clone')
      .set('Content-Type', 'multipart/form-data')
      .send('garbage');
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body.error.code).toBe('invalid_request');
    expect(fake.received).toHaveLength(0);
  });
});
