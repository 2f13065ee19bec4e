import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OpenAuditFile } from '../../src/audit/audit-trail.js';
import type { ServiceOptions } from '../../src/service.js';
import { auditFilePath, readAuditFile as lines } from '../helpers/audit-file.js';
import {
  audio,
  buildService,
  type CloneRequest,
  type FakeUpstream,
  notAudio,
  postClone,
  startFakeUpstream,
  suiteFakeUpstream,
  tempDir,
  testConfig,
  voiceReply,
} from '../helpers/kit.js';

const TOKEN = 'tok_caller_two_000000';
const ALICE = 'alice@example.com';
const MP3 = readFileSync(audio('sample.mp3'));
const MP3_SHA = createHash('sha256').update(MP3).digest('hex');

/** Identity through a trusted proxy (supertest connects from loopback). */
const IDENTITY = { AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email', TRUST_PROXY: 'loopback' };

/** The service, callers named by the proxy, its audit trail in `file` (a path or a folder). */
const auditedService = (
  upstream: string,
  file: string,
  options: Partial<ServiceOptions> = {},
  env: Record<string, string> = {},
) => buildService(testConfig({ ...IDENTITY, AUDIT_LOG: file, ...env }), upstream, options);

/** A clone from Alice through the proxy: one sample.mp3 named `n` unless said. */
const aliceClone = (app: Parameters<typeof postClone>[0], clone: CloneRequest = {}) =>
  postClone(app, { name: 'n', ...clone, headers: { 'X-Forwarded-Email': ALICE } });

describe('the audit trail (AUDIT_LOG)', () => {
  let fake: FakeUpstream;
  let auditFile = '';
  /** What the audit file held at the moment each clone reached Truedy. */
  const atUpstream: string[] = [];
  beforeAll(async () => {
    fake = await startFakeUpstream([], (r) => {
      atUpstream.push(existsSync(auditFile) ? readFileSync(auditFile, 'utf8') : '');
      return voiceReply(r);
    });
  });
  afterAll(() => fake.close());

  /** A service whose audit trail is a fresh file. */
  function build(env: Record<string, string> = {}, openAuditFile?: OpenAuditFile) {
    auditFile = auditFilePath();
    return auditedService(fake.url, auditFile, { openAuditFile }, env);
  }
  const clone = (app: Parameters<typeof postClone>[0], name = 'Narrator') =>
    aliceClone(app, { name, fields: { consent: 'true' } });

  it('a clone: one entry durable before Truedy is called, one with its outcome; files described, never their bytes', async () => {
    const { app } = build();
    const res = await clone(app);
    expect(res.status).toBe(201);
    const requestId = res.headers['x-request-id'];
    const [first, second, ...rest] = lines(auditFile);
    expect(rest).toEqual([]);
    const caller = { kind: 'proxy', id: `person:${ALICE}`, person: ALICE };
    const file = {
      filename: 'sample.mp3',
      bytes: MP3.length,
      sha256: MP3_SHA,
      content_type: 'audio/mpeg',
      seconds: 2.088, // from the audio-facts step: the MP3's frames, as ffprobe measures them
    };
    expect(first).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      event: 'clone_requested',
      request_id: requestId,
      caller,
      voice_name: 'Narrator',
      files: [file],
      consent: true,
      status: null,
      code: null,
      voice_id: null,
      upstream_request_id: null,
      attempts: null,
    });
    expect(second).toEqual({
      ...first,
      time: expect.any(String),
      event: 'clone_outcome',
      status: 201,
      voice_id: 'voice_custom123',
      upstream_request_id: 'req_up_1',
      attempts: 1,
    });
    // When Truedy got the clone, its first entry was already in the file, and only that.
    expect(atUpstream.at(-1)).toBe(`${JSON.stringify(first)}\n`);
    const text = readFileSync(auditFile, 'utf8');
    expect(text).not.toContain(MP3.subarray(1000, 1200).toString('base64').slice(0, 40));
    // The trail names people: readable by the service's user only.
    expect(statSync(auditFile).mode & 0o777).toBe(0o600);
  });

  it('a token caller is named by its id, never by the token', async () => {
    const { app } = build({ CLIENT_TOKENS: TOKEN });
    const res = await postClone(app, { name: 'n', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(201);
    const entries = lines(auditFile);
    expect(entries.map((e) => e.caller)).toEqual([
      { kind: 'token', id: expect.stringMatching(/^token:[0-9a-f]{12}$/), person: null },
      { kind: 'token', id: expect.stringMatching(/^token:[0-9a-f]{12}$/), person: null },
    ]);
    expect(readFileSync(auditFile, 'utf8')).not.toContain(TOKEN);
  });

  it("Truedy's refusal: both entries, the outcome with its status, code and attempts", async () => {
    const { app } = build();
    fake.queue.push({
      status: 402,
      body: {
        error: { code: 'insufficient_credits', message: 'No credits' },
        meta: { request_id: 'req_up_402' },
      },
    });
    const res = await clone(app);
    expect(res.status).toBe(402);
    const entries = lines(auditFile);
    expect(entries.map((e) => e.event)).toEqual(['clone_requested', 'clone_outcome']);
    expect(entries[1]).toMatchObject({
      status: 402,
      code: 'insufficient_credits',
      voice_id: null,
      upstream_request_id: 'req_up_402',
      attempts: 1,
      caller: { person: ALICE },
      voice_name: 'Narrator',
    });
  });

  it('refused here (consent, not audio, rate limit, no credential): one outcome entry each, nothing upstream', async () => {
    const { app } = build({ REQUIRE_CONSENT: 'true', RATE_LIMIT_MAX: '3' });
    const before = fake.received.length;
    const noConsent = await aliceClone(app, { name: 'Without consent' });
    expect(noConsent.status).toBe(400);
    const notSound = await aliceClone(app, {
      name: 'Not audio',
      fields: { consent: 'true' },
      files: [notAudio('text-named.mp3')],
    });
    expect(notSound.status).toBe(415);
    expect((await clone(app)).status).toBe(201);
    expect((await clone(app)).status).toBe(429);
    const anonymous = await postClone(app, { name: 'x', files: [] });
    expect(anonymous.status).toBe(401);
    expect(fake.received.length).toBe(before + 1);

    const outcomes = lines(auditFile).filter((e) => e.event === 'clone_outcome');
    expect(outcomes.map((e) => [e.status, e.code])).toEqual([
      [400, 'consent_required'],
      [415, 'unsupported_media_type'],
      [201, null],
      [429, 'rate_limited'],
      [401, 'unauthorized'],
    ]);
    expect(outcomes[0]).toMatchObject({
      voice_name: 'Without consent',
      consent: false,
      caller: { person: ALICE },
      // Consent is checked once the audio is read: the entry says what was refused.
      files: [{ filename: 'sample.mp3', sha256: MP3_SHA, content_type: 'audio/mpeg', seconds: 2.088 }],
      attempts: 0,
    });
    expect(outcomes[1]?.files?.[0]).toMatchObject({ filename: 'text-named.mp3', content_type: null });
    // Refused before its upload was read: the caller is known, the voice is not.
    expect(outcomes[3]).toMatchObject({
      caller: { kind: 'proxy', person: ALICE },
      voice_name: null,
      files: null,
    });
    // Refused before it was known who asked: the address is all there is.
    expect(outcomes[4]?.caller).toEqual({ kind: 'ip', id: expect.stringMatching(/^ip:/), person: null });
    expect(lines(auditFile).filter((e) => e.event === 'clone_requested')).toHaveLength(1);
  });

  it('an idempotent replay is an outcome marked replayed, with no new request entry', async () => {
    const { app } = build();
    const send = () => clone(app).set('Idempotency-Key', 'audit-replay-1');
    expect((await send()).status).toBe(201);
    const again = await send();
    expect(again.headers['idempotent-replayed']).toBe('true');
    const entries = lines(auditFile);
    expect(entries.map((e) => [e.event, e.replayed ?? false])).toEqual([
      ['clone_requested', false],
      ['clone_outcome', false],
      ['clone_outcome', true],
    ]);
    expect(entries[2]).toMatchObject({ status: 201, voice_id: 'voice_custom123', attempts: 0 });
  });

  it('concurrent clones: every line whole, each clone with its two entries', async () => {
    const { app } = build();
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => clone(app, `Voice ${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    const entries = lines(auditFile);
    expect(entries).toHaveLength(12);
    for (const a of answers) {
      const mine = entries.filter((e) => e.request_id === a.headers['x-request-id']);
      expect(mine.map((e) => e.event)).toEqual(['clone_requested', 'clone_outcome']);
    }
  });
});

describe('the order of events', () => {
  const fake = suiteFakeUpstream();

  it("the outcome entry is flushed before the answer goes out, even when the disk's flush is slow", async () => {
    const file = auditFilePath();
    const events: string[] = [];
    let flushes = 0;
    const slowFlush: OpenAuditFile = async (p) => {
      const h = await open(p, 'a', 0o600);
      return {
        appendFile: (data) => h.appendFile(data),
        datasync: async () => {
          await h.datasync();
          // The outcome's flush is slow: an answer sent without waiting for it would arrive first.
          if (++flushes === 2) await new Promise((r) => setTimeout(r, 50));
          events.push(`flushed ${flushes}`);
        },
        close: () => h.close(),
      };
    };
    const { app } = auditedService(fake.url, file, { openAuditFile: slowFlush });
    const res = await aliceClone(app);
    events.push(`answered ${res.status}`);
    expect(events).toEqual(['flushed 1', 'flushed 2', 'answered 201']);
  });
});

describe('when the audit trail cannot be written', () => {
  const fake = suiteFakeUpstream();

  it('AUDIT_LOG names a directory: 503 audit_unavailable, nothing upstream, the cause logged', async () => {
    const dir = tempDir();
    const { app, log } = auditedService(fake.url, dir);
    const before = fake.received.length;
    const res = await aliceClone(app);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('audit_unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(fake.received.length).toBe(before);
    expect(
      log.lines.some((l) => l.msg === 'the audit trail could not be written (before the upstream call)'),
    ).toBe(true);
    expect(JSON.stringify(log.lines)).toContain('EISDIR');
  });

  it('the file is replaced by a directory and reopened (a rotation gone wrong): 503 until the path is usable again', async () => {
    const file = auditFilePath();
    const built = auditedService(fake.url, file);
    await built.audit.open();
    expect((await aliceClone(built.app)).status).toBe(201);
    rmSync(file);
    mkdirSync(file);
    await expect(built.audit.reopen()).rejects.toThrow(/EISDIR/);
    const before = fake.received.length;
    expect((await aliceClone(built.app)).status).toBe(503);
    expect(fake.received.length).toBe(before);
    // Mended: the next clone opens the path again by itself.
    rmSync(file, { recursive: true });
    expect((await aliceClone(built.app)).status).toBe(201);
    expect(lines(file).map((e) => e.event)).toEqual(['clone_requested', 'clone_outcome']);
  });

  /** A real audit file whose writes fail with ENOSPC while `full()` says so. */
  const fillingDisk =
    (full: () => boolean): OpenAuditFile =>
    async (p) => {
      const h = await open(p, 'a', 0o600);
      return {
        appendFile: async (data) => {
          if (full())
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          await h.appendFile(data);
        },
        datasync: () => h.datasync(),
        close: () => h.close(),
      };
    };

  it('the disk is full: 503 audit_unavailable, nothing upstream', async () => {
    const built = auditedService(fake.url, auditFilePath(), { openAuditFile: fillingDisk(() => true) });
    const before = fake.received.length;
    const res = await aliceClone(built.app);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('audit_unavailable');
    expect(fake.received.length).toBe(before);
    expect(JSON.stringify(built.log.lines)).toContain('ENOSPC');
  });

  it('the outcome entry cannot be written: the answer still goes out (the voice exists), the error is logged', async () => {
    const file = auditFilePath();
    let writes = 0;
    const built = auditedService(fake.url, file, { openAuditFile: fillingDisk(() => ++writes > 1) });
    const res = await aliceClone(built.app);
    expect(res.status).toBe(201);
    expect(res.body.data.id).toBe('voice_custom123');
    expect(lines(file).map((e) => e.event)).toEqual(['clone_requested']);
    expect(
      built.log.lines.some(
        (l) => l.level === 50 && l.msg === 'the audit trail could not be written (the outcome)',
      ),
    ).toBe(true);
  });
});

describe('without AUDIT_LOG', () => {
  const fake = suiteFakeUpstream();

  it('the same entries go to the log, marked "audit": true', async () => {
    const { app, log } = buildService(testConfig(IDENTITY), fake.url);
    const res = await aliceClone(app, { name: 'Logged' });
    expect(res.status).toBe(201);
    const audit = log.lines.filter((l) => l.audit === true);
    expect(audit.map((l) => l.event)).toEqual(['clone_requested', 'clone_outcome']);
    expect(audit[1]).toMatchObject({
      request_id: res.headers['x-request-id'],
      caller: { kind: 'proxy', person: ALICE },
      voice_name: 'Logged',
      files: [{ filename: 'sample.mp3', sha256: MP3_SHA, content_type: 'audio/mpeg' }],
      status: 201,
      voice_id: 'voice_custom123',
      attempts: 1,
    });
    // The request's own log line names the same caller.
    expect(log.lines.find((l) => l.msg === 'request')?.caller).toMatchObject({ person: ALICE });
  });
});
