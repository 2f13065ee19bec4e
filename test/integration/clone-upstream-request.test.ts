import { readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import {
  audio,
  buildService,
  CLONE_PATH,
  type FakeUpstream,
  filesIn,
  hasRawControl,
  postClone,
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
    const res = await postClone(app, {
      name: 'All formats',
      files: Object.keys(formats).map((f) => ({ path: audio(f), contentType: 'text/plain' })),
      headers: { 'X-Request-Id': 'rid-1' },
    });
    expect(res.status).toBe(201);
    const sent = fake.received.at(-1);
    expect(sent?.method).toBe('POST');
    expect(sent?.url).toBe('/voices/clone');
    expect(sent?.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(sent?.headers.accept).toBe('application/json');
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
    const res = await postClone(app, {
      files: [{ path: audio('sample.ogg'), field: 'files[]' }, 'sample.flac'],
    });
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
    const res = await request(app).post(CLONE_PATH).set('Content-Type', contentType).send(body);
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
    const missing = await postClone(app);
    expect(missing.status).toBe(502);
    expect(missing.body.error.code).toBe('upstream_invalid_response');

    fake.queue.push({ status: 200, body: '<html>oops</html>' });
    const html = await postClone(app);
    expect(html.status).toBe(502);
    expect(html.body.error.code).toBe('upstream_invalid_response');

    fake.queue.push({ status: 201, body: { data: { id: 'v9', status: 'weird', type: 7 } } });
    const odd = await postClone(app, { name: 'Kept' });
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
    const res = await postClone(app, { files: ['sample.wav'] });
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    expect(fake.received.length).toBe(before);
    expect(log.lines.some((l) => l.level === 50 && /spooled upload/.test(JSON.stringify(l)))).toBe(true);
  });

  it('relays a 422 detail[] as details.errors', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const detail = [{ loc: ['body', 'files', 0, 'data'], msg: 'bad', type: 'value_error' }];
    fake.queue.push({ status: 422, body: { detail } });
    const res = await postClone(app);
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { errors: detail } });
  });
});
