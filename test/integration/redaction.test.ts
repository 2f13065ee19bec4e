import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { auditFilePath, readAuditFile } from '../helpers/audit-file.js';
import { audio, buildService, type Reply, suiteFakeUpstream, TEST_KEY, testConfig } from '../helpers/kit.js';

/** SPEC "Errors": no secret reaches a client or a log line, whatever Truedy sends back. */

const TOKEN = 'tok_caller_one_000000';
// The key without its `tk_test_` prefix, as a debug build might print it.
const TAIL = TEST_KEY.replace(/^tk_test_/, '');

/** A clone by the token's caller. */
const cloneAs = (app: Parameters<typeof request>[0]) =>
  request(app)
    .post('/api/voices/clone')
    .set('Authorization', `Bearer ${TOKEN}`)
    .field('name', 'n')
    .attach('files', audio('sample.mp3'));

describe('secrets Truedy echoes are never relayed', () => {
  const fake = suiteFakeUpstream();
  const build = () => buildService(testConfig({ CLIENT_TOKENS: TOKEN }), fake.url);

  const cases: [string, Reply, number][] = [
    [
      'the key in a 400 message',
      { status: 400, body: { error: { code: 'bad_audio', message: `key ${TEST_KEY} is not allowed here` } } },
      400,
    ],
    [
      'the key two levels deep in 402 details and in an array',
      {
        status: 402,
        body: {
          error: {
            code: 'insufficient_credits',
            message: 'no credits',
            details: { account: { api_key: TEST_KEY, keys: ['a', `x${TEST_KEY}y`] }, echo: [[TEST_KEY]] },
          },
        },
      },
      402,
    ],
    [
      'Bearer <key> in a 422 detail[] msg and input',
      {
        status: 422,
        body: {
          detail: [
            {
              loc: ['header', 'authorization'],
              msg: `bad header Authorization: Bearer ${TEST_KEY}`,
              input: `Bearer ${TEST_KEY}`,
              type: 'value_error',
            },
          ],
        },
      },
      422,
    ],
    [
      "the key's tail without its prefix",
      { status: 400, body: { error: { code: 'bad', message: `unknown key …${TAIL}` } } },
      400,
    ],
    [
      'a client token and some other Bearer credential',
      {
        status: 400,
        body: {
          error: {
            code: 'bad',
            message: `caller sent ${TOKEN}`,
            details: { seen: 'Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2ln' },
          },
        },
      },
      400,
    ],
    [
      'the key in a created voice',
      {
        status: 201,
        body: { data: { id: 'voice_1', name: `named ${TEST_KEY}`, preview_url: `https://x/?k=${TAIL}` } },
      },
      201,
    ],
    [
      "the key in Truedy's X-Request-Id header of a created voice",
      { status: 201, headers: { 'x-request-id': `req-${TEST_KEY}` }, body: { data: { id: 'voice_1' } } },
      201,
    ],
  ];

  it.each(cases)('%s', async (_what, reply, status) => {
    const { app, log } = build();
    fake.queue.push(reply);
    const res = await cloneAs(app);
    expect(res.status).toBe(status);
    const answer = res.text;
    for (const secret of [TEST_KEY, TAIL, TOKEN, 'eyJhbGciOiJSUzI1NiJ9']) {
      expect(answer).not.toContain(secret);
      expect(log.text()).not.toContain(secret);
    }
    expect(answer).toContain('[redacted]');
  });

  it("the key in Truedy's X-Request-Id never reaches the audit file (written without the log's redaction)", async () => {
    const file = auditFilePath();
    const { app } = buildService(testConfig({ CLIENT_TOKENS: TOKEN, AUDIT_LOG: file }), fake.url);
    fake.queue.push(
      { status: 201, headers: { 'x-request-id': `req-${TEST_KEY}` }, body: { data: { id: 'voice_1' } } },
      {
        status: 400,
        headers: { 'x-request-id': `echo Bearer ${TEST_KEY}` },
        body: { error: { code: 'bad' } },
      },
    );
    for (const status of [201, 400]) {
      const res = await cloneAs(app);
      expect(res.status).toBe(status);
    }
    const ids = readAuditFile(file).map((l) => (l as { upstream_request_id?: unknown }).upstream_request_id);
    expect(ids).toEqual(expect.arrayContaining(['req-[redacted]', 'echo Bearer [redacted]']));
    expect(readFileSync(file, 'utf8')).not.toContain(TAIL);
  });

  it('the shape of what is relayed is kept: only the secret is replaced', async () => {
    const { app } = build();
    fake.queue.push(cases[2]?.[1] as Reply);
    const res = await cloneAs(app);
    expect(res.body.error.details.errors).toEqual([
      {
        loc: ['header', 'authorization'],
        msg: 'bad header Authorization: Bearer [redacted]',
        input: 'Bearer [redacted]',
        type: 'value_error',
      },
    ]);
  });
});
