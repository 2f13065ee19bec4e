import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import {
  audio,
  buildService,
  CLONE_PATH,
  type CloneRequest,
  notAudio,
  postClone,
  suiteFakeUpstream,
  testConfig,
  waitForEmptyDir,
} from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';

describe('POST /api/voices/clone: refused before anything goes upstream', () => {
  const fake = suiteFakeUpstream();

  const small = testConfig({
    MAX_FILES: '2',
    MAX_FILE_BYTES: '20000',
    MAX_TOTAL_BYTES: '30000',
    MEMORY_BUFFER_FILE_BYTES: '0',
  });
  const mp3 = readFileSync(audio('sample.mp3')); // 8577 bytes
  const twice = Buffer.concat([mp3, mp3]);
  const cases: [string, CloneRequest, number, string, Record<string, unknown> | null][] = [
    ['no name', { name: null }, 400, 'invalid_request', null],
    ['a blank name', { name: '   ' }, 400, 'invalid_request', null],
    ['a 101-character name', { name: '🎙'.repeat(101) }, 400, 'invalid_request', null],
    ['no files', { files: [] }, 400, 'invalid_request', null],
    [
      'an empty file',
      { files: [{ data: Buffer.alloc(0), filename: 'empty.mp3' }] },
      400,
      'invalid_request',
      { filename: 'empty.mp3' },
    ],
    [
      'an unexpected file field',
      { files: [{ path: audio('sample.mp3'), field: 'audio' }] },
      400,
      'invalid_request',
      null,
    ],
    [
      'a text file named .mp3',
      { files: ['sample.mp3', notAudio('text-named.mp3')] },
      415,
      'unsupported_media_type',
      { filename: 'text-named.mp3' },
    ],
    [
      'a PNG',
      { files: [{ path: notAudio('image.png'), contentType: 'audio/mpeg' }] },
      415,
      'unsupported_media_type',
      null,
    ],
    ['random bytes', { files: [notAudio('random-bytes.bin')] }, 415, 'unsupported_media_type', null],
    [
      'more than MAX_FILES files',
      { files: ['a', 'b', 'c'].map((n) => ({ data: mp3, filename: `${n}.mp3` })) },
      413,
      'payload_too_large',
      { limit: 'MAX_FILES', value: 2 },
    ],
    [
      'a file over MAX_FILE_BYTES',
      { files: [{ data: Buffer.concat([mp3, mp3, mp3]), filename: 'big.mp3' }] },
      413,
      'payload_too_large',
      { limit: 'MAX_FILE_BYTES', value: 20000, filename: 'big.mp3' },
    ],
    [
      'files over MAX_TOTAL_BYTES together',
      {
        files: [
          { data: twice, filename: 'a.mp3' },
          { data: twice, filename: 'b.mp3' },
        ],
      },
      413,
      'payload_too_large',
      { limit: 'MAX_TOTAL_BYTES', value: 30000 },
    ],
  ];

  it.each(cases)('%s', async (_what, clone, status, code, details) => {
    const { app, config, memoryBudget } = buildService(small, fake.url);
    const before = fake.received.length;
    const res = await postClone(app, clone);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.meta.request_id).toBe(res.headers['x-request-id']);
    if (details) expect(res.body.error.details).toMatchObject(details);
    expect(fake.received.length).toBe(before);
    expect(await waitForEmptyDir(config.uploadDir)).toEqual([]);
    expect(memoryBudget.inUse).toBe(0); // what was held in memory is given back too
  });

  it('a body that is not multipart is 415', async () => {
    const { app } = buildService(small, fake.url);
    const res = await request(app).post(CLONE_PATH).send({ name: 'n', files: [] });
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
      .post(CLONE_PATH)
      .set('Content-Type', contentType)
      .send(body.subarray(0, body.length - 30));
    expect(truncated.status).toBe(400);
    expect(truncated.body.error.code).toBe('invalid_request');
    const noBoundary = await request(app)
      .post(CLONE_PATH)
      .set('Content-Type', 'multipart/form-data')
      .send('garbage');
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body.error.code).toBe('invalid_request');
    expect(fake.received).toHaveLength(0);
  });
});
