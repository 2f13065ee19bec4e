import { describe, expect, it } from '@jest/globals';
import { toHttpError } from '../../src/http/error-table.js';
import { upstreamError as domainError } from '../../src/normalize/upstream-error.js';

/** The domain error, as the one table answers it. */
const upstreamError = (...args: Parameters<typeof domainError>) => {
  const e = toHttpError(domainError(...args));
  return { status: e.status, ...e.error };
};

describe('upstreamError', () => {
  it('without a message of its own, a refusal says what Truedy refused in words true of a read too', () => {
    for (const op of ['clone', 'get'] as const) {
      expect(upstreamError(400, { error: {} }, op).message).toBe('Truedy refused the request.');
      expect(upstreamError(422, {}, op).message).toBe('Truedy could not validate the request.');
    }
  });

  it('relays 402 code, message and details', () => {
    const e = upstreamError(
      402,
      {
        error: {
          code: 'insufficient_credits',
          message: 'Insufficient credits for voice cloning',
          details: { required_credits: 100, current_balance: 50 },
        },
      },
      'clone',
    );
    expect([e.status, e.code, e.message, e.details]).toEqual([
      402,
      'insufficient_credits',
      'Insufficient credits for voice cloning',
      { required_credits: 100, current_balance: 50 },
    ]);
  });

  it('relays 400 and falls back when the body is not Truedy JSON', () => {
    expect(upstreamError(400, { error: { code: 'invalid_audio', message: 'bad' } }, 'clone')).toMatchObject({
      status: 400,
      code: 'invalid_audio',
      message: 'bad',
    });
    expect(upstreamError(400, undefined, 'clone')).toMatchObject({ status: 400, code: 'bad_request' });
  });

  it('keeps a relayed code only when it is a plain identifier', () => {
    for (const code of ['Bad Code', '<script>', 'x'.repeat(65), 'ünicode']) {
      expect(upstreamError(400, { error: { code } }, 'clone')).toMatchObject({
        status: 400,
        code: 'bad_request',
      });
      expect(upstreamError(402, { error: { code } }, 'clone')).toMatchObject({
        code: 'insufficient_credits',
      });
    }
    expect(upstreamError(422, { error: { code: 'other' } }, 'clone').code).toBe('validation_error');
  });

  it('turns 422 detail[] into details.errors with code validation_error', () => {
    const detail = [{ loc: ['body', 'name'], msg: 'too long', type: 'string_too_long' }];
    expect(upstreamError(422, { detail }, 'clone')).toMatchObject({
      status: 422,
      code: 'validation_error',
      details: { errors: detail },
    });
  });

  it.each([401, 403])('%i means our key is wrong: 502 upstream_auth_failed', (status) => {
    expect(upstreamError(status, {}, 'clone')).toMatchObject({ status: 502, code: 'upstream_auth_failed' });
  });

  it('404 is not_found for a read, upstream_error for a clone', () => {
    expect(upstreamError(404, {}, 'get')).toMatchObject({ status: 404, code: 'not_found' });
    expect(upstreamError(404, {}, 'clone')).toMatchObject({ status: 502, code: 'upstream_error' });
  });

  it.each([500, 502, 503, 418])('%i is 502 upstream_error', (status) => {
    expect(upstreamError(status, { error: { code: 'x' } }, 'clone')).toMatchObject({
      status: 502,
      code: 'upstream_error',
    });
  });
});
