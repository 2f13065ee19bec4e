import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { audio, buildService, postClone, suiteFakeUpstream, testConfig } from '../helpers/kit.js';

/** SPEC "POST /api/voices/clone": audio facts before anything is spent, and consent. */

const bytes = (name: string) => readFileSync(audio(name));
/** What the fixtures last, as ffprobe measures them (test/unit/audio-facts.test.ts holds the commands). */
const SECONDS: Record<string, number> = {
  'sample.wav': 2.0,
  'sample.mp3': 2.088,
  'sample.flac': 2.0,
  'sample.ogg': 2.0,
  'sample.webm': 2.0,
  'sample.m4a': 2.0,
  'chromium-recording.webm': 3.0,
  'chromium-recording-timeslice.webm': 3.0,
};

describe('audio facts before anything is spent', () => {
  const fake = suiteFakeUpstream();

  it('every format and both kinds of Chromium recording pass; meta.audio has each length and the total', async () => {
    const { app, log } = buildService(testConfig(), fake.url);
    const files = Object.keys(SECONDS);
    const res = await postClone(app, { files, headers: { 'X-Request-Id': 'audio-1' } });
    expect(res.status).toBe(201);
    const meta = res.body.meta.audio as { seconds: number; files: { filename: string; seconds: number }[] };
    expect(meta.files.map((f) => f.filename)).toEqual(files);
    meta.files.forEach((f) => {
      expect(Math.abs(f.seconds - (SECONDS[f.filename] as number))).toBeLessThan(0.1);
    });
    expect(meta.files[0]).toEqual({
      filename: 'sample.wav',
      content_type: 'audio/wav',
      bytes: 64078,
      seconds: 2,
    });
    const total = meta.files.reduce((n, f) => n + f.seconds, 0);
    expect(meta.seconds).toBeCloseTo(total, 3);
    expect(log.lines.find((l) => l.msg === 'request' && l.request_id === 'audio-1')?.audio_seconds).toBe(
      meta.seconds,
    );
  });

  const mp3 = bytes('sample.mp3');
  const wav = bytes('sample.wav');
  it.each([
    ['a WAV cut in half', wav.subarray(0, wav.length / 2), 'half.wav'],
    ['an MP3 cut in half', mp3.subarray(0, Math.floor(mp3.length / 2)), 'half.mp3'],
    [
      'a WAV header followed by random bytes',
      Buffer.concat([wav.subarray(0, 44), randomBytes(60_000)]),
      'junk.wav',
    ],
    [
      'an MP3 header followed by random bytes',
      Buffer.concat([mp3.subarray(0, 1200), randomBytes(20_000)]),
      'junk.mp3',
    ],
    [
      'a FLAC header followed by random bytes',
      Buffer.concat([bytes('sample.flac').subarray(0, 200), randomBytes(40_000)]),
      'junk.flac',
    ],
  ])('%s: 400 invalid_audio naming the file, nothing upstream', async (_what, data, filename) => {
    const { app } = buildService(testConfig(), fake.url);
    const before = fake.received.length;
    const res = await postClone(app, { files: ['sample.ogg', { data, filename }] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_audio');
    expect(res.body.error.details).toEqual({ filename });
    expect(res.body.error.message).toContain(filename);
    expect(fake.received.length).toBe(before);
  });

  it.each([
    [{ MIN_AUDIO_SECONDS: '5' }, 422, 'audio_too_short', { seconds: 4.088, limit: 5 }],
    [{ MAX_AUDIO_SECONDS: '3.5' }, 422, 'audio_too_long', { seconds: 4.088, limit: 3.5 }],
    [{ MIN_AUDIO_SECONDS: '4', MAX_AUDIO_SECONDS: '4.1' }, 201, undefined, undefined],
  ])('the total against %o: %i %s', async (env, status, code, details) => {
    const { app } = buildService(testConfig(env), fake.url);
    const before = fake.received.length;
    const res = await postClone(app, { files: ['sample.mp3', 'sample.wav'] });
    expect(res.status).toBe(status);
    if (code) {
      expect(res.body.error).toMatchObject({ code, details });
      expect(fake.received.length).toBe(before);
    }
  });
});

describe('consent', () => {
  const fake = suiteFakeUpstream();

  it('REQUIRE_CONSENT=true: refused 400 consent_required without it, nothing upstream', async () => {
    const { app } = buildService(testConfig({ REQUIRE_CONSENT: 'true' }), fake.url);
    const before = fake.received.length;
    for (const fields of [{}, { consent: 'false' }, { consent: '' }] as Record<string, string>[]) {
      const res = await postClone(app, { fields });
      expect([res.status, res.body.error.code]).toEqual([400, 'consent_required']);
    }
    expect(fake.received.length).toBe(before);
  });

  it.each(['true', 'on', 'yes', '1', 'TRUE'])(
    'consent=%s is given; it is never sent to Truedy',
    async (value) => {
      const { app } = buildService(testConfig({ REQUIRE_CONSENT: 'true' }), fake.url);
      const res = await postClone(app, { fields: { consent: value } });
      expect(res.status).toBe(201);
      expect(Object.keys(JSON.parse(fake.received.at(-1)?.body.toString() ?? '{}'))).toEqual([
        'name',
        'files',
      ]);
    },
  );

  it('optional by default; a value that is neither yes nor no is 400 invalid_request', async () => {
    const { app } = buildService(testConfig(), fake.url);
    expect((await postClone(app)).status).toBe(201);
    const odd = await postClone(app, { fields: { consent: 'maybe' } });
    expect([odd.status, odd.body.error.code, odd.body.error.details]).toEqual([
      400,
      'invalid_request',
      { field: 'consent' },
    ]);
  });
});
