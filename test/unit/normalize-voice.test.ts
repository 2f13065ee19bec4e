import { describe, expect, it } from '@jest/globals';
import { normalizeVoice } from '../../src/normalize/voice.js';

const at = new Date('2026-05-01T12:00:00.000Z');

describe('normalizeVoice', () => {
  it('maps the first documented shape (type, updated_at, status training): every field kept', () => {
    const first = {
      id: 'voice_custom123',
      name: 'My Custom Voice',
      provider: 'elevenlabs',
      type: 'custom',
      language: 'en-US',
      status: 'training',
      created_at: '2026-03-03T20:30:21.310278Z',
      updated_at: '2026-03-03T20:31:00Z',
    };
    const { voice } = normalizeVoice(first, 'submitted', at);
    expect(voice).toEqual({ ...first, gender: null, accent: null, preview_url: null });
  });

  it('maps the second documented shape (is_custom, gender, accent, preview_url, processing)', () => {
    const second = {
      id: 'voice_clone_9a8b7c',
      name: 'My Custom Voice',
      gender: 'female',
      language: 'en-US',
      accent: 'American',
      provider: 'elevenlabs',
      preview_url: 'https://api.truedy.ai/voices/voice_c7d82fec/preview',
      is_custom: true,
      created_at: '2026-01-01T00:00:00Z',
      status: 'processing',
    };
    const { voice } = normalizeVoice(second, 'submitted', at);
    const { is_custom: _custom, ...kept } = second;
    // is_custom becomes type, processing becomes training, a missing updated_at is created_at.
    expect(voice).toEqual({ ...kept, type: 'custom', status: 'training', updated_at: second.created_at });
  });

  it('fills every missing field by SPEC rule and adds no other field', () => {
    const { voice } = normalizeVoice({ id: 'v1', extra: 'dropped', secret: 'x' }, 'Submitted name', at);
    expect(voice).toEqual({
      id: 'v1',
      name: 'Submitted name',
      provider: null,
      type: 'custom',
      language: null,
      status: 'training',
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
      gender: null,
      accent: null,
      preview_url: null,
    });
  });

  it.each([
    [{ type: 'reference', is_custom: true }, 'reference'],
    [{ is_custom: false }, 'reference'],
    [{ is_custom: true }, 'custom'],
    [{ type: 'premium', is_custom: false }, 'reference'],
    [{ type: 'premium' }, 'custom'],
  ])('type from %j is %s', (fields, type) => {
    expect(normalizeVoice({ id: 'v', ...fields }, 'n', at).voice?.type).toBe(type);
  });

  it.each([
    ['training', 'training'],
    ['processing', 'training'],
    ['pending', 'training'],
    ['queued', 'training'],
    ['in_progress', 'training'],
    ['active', 'active'],
    ['ready', 'active'],
    ['completed', 'active'],
    ['succeeded', 'active'],
    ['failed', 'failed'],
    ['error', 'failed'],
    ['READY', 'active'],
  ])('status %s becomes %s', (upstream, expected) => {
    const r = normalizeVoice({ id: 'v', status: upstream }, 'n', at);
    expect(r.voice?.status).toBe(expected);
    expect(r.unknownStatus).toBeUndefined();
  });

  it('an unknown status is training and reported for a warning', () => {
    const r = normalizeVoice({ id: 'v', status: 'warming_up' }, 'n', at);
    expect(r.voice?.status).toBe('training');
    expect(r.unknownStatus).toBe('warming_up');
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'a status named like an object property (%s) is unknown too',
    (upstream) => {
      const r = normalizeVoice({ id: 'v', status: upstream }, 'n', at);
      expect(r.voice?.status).toBe('training');
      expect(r.unknownStatus).toBe(upstream);
    },
  );

  it('keeps to the table, whatever the case', () => {
    expect(normalizeVoice({ id: 'v', status: 'READY' }, 'n', at).voice?.status).toBe('active');
  });

  it('odd field types fall back as if missing', () => {
    const { voice } = normalizeVoice(
      { id: 'v', name: 42, provider: {}, language: ['en'], created_at: 'yesterday', gender: 1 },
      'fallback',
      at,
    );
    expect(voice).toMatchObject({
      name: 'fallback',
      provider: null,
      language: null,
      created_at: at.toISOString(),
      gender: null,
    });
  });

  it.each([[null], ['text'], [{}], [{ id: '' }], [{ id: null }], [[{ id: 'v' }]]])(
    'no usable id in %j gives no voice',
    (raw) => {
      expect(normalizeVoice(raw, 'n', at).voice).toBeNull();
    },
  );
});
