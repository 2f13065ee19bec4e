import { describe, expect, it } from '@jest/globals';
import { buildService, filesIn, postClone, suiteSandbox, testConfig } from '../helpers/kit.js';

describe('POST /api/voices/clone answers one normalized voice (against the sandbox)', () => {
  const sandbox = suiteSandbox();

  it('answers 201 with the normalized voice, request id and attempts', async () => {
    const { app, config } = buildService(testConfig(), sandbox.url);
    const res = await postClone(app, { name: '  Test  ', headers: { 'X-Request-Id': 'form-42' } });
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
  });

  it('normalizes both of the sandbox shapes to the same fields', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const shapes = [];
    for (let i = 0; i < 2; i++) {
      const res = await postClone(app, { name: 'V', files: ['sample.wav'] });
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
    const res = await postClone(app, { name: `Voice ${tag}` });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.headers['x-upstream-attempts']).toBe('1');
    if (status === 402)
      expect(res.body.error.details).toEqual({ required_credits: 100, current_balance: 50 });
  });

  it('a wrong server key is 502 upstream_auth_failed, logged as an error, key never shown', async () => {
    const { app, log } = buildService(testConfig({ TRUEDY_API_KEY: 'wrong_key_0123456789' }), sandbox.url);
    const res = await postClone(app);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_auth_failed');
    expect(log.lines.some((l) => l.level === 50 && String(l.msg).includes('TRUEDY_API_KEY'))).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('wrong_key');
    expect(log.text()).not.toContain('wrong_key_0123456789');
  });
});
