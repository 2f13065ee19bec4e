import { AppError } from '../http/errors.js';

/** Which Truedy call failed; a 404 means "no such voice" only for a read. */
export type UpstreamOperation = 'clone' | 'get';

interface TruedyErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
  detail?: unknown;
}

/**
 * Maps a non-2xx Truedy answer that will not be retried to SPEC's error table: 400/402/422 relay
 * upstream's code, message and details; 401/403 mean our key is wrong; the rest is a 502.
 */
export function upstreamError(status: number, body: unknown, op: UpstreamOperation): AppError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as TruedyErrorBody;
  const code = typeof b.error?.code === 'string' && b.error.code ? b.error.code : undefined;
  const message = typeof b.error?.message === 'string' && b.error.message ? b.error.message : undefined;
  const details = isRecord(b.error?.details) ? b.error.details : undefined;

  switch (status) {
    case 400:
      return new AppError(400, code ?? 'bad_request', message ?? 'Truedy refused the upload.', details);
    case 402:
      return new AppError(
        402,
        code ?? 'insufficient_credits',
        message ?? 'Not enough Truedy credits to clone a voice.',
        details,
      );
    case 422: {
      // FastAPI-style validation answers carry `detail[]`; SPEC relays it as details.errors.
      const errors = Array.isArray(b.detail) ? b.detail : undefined;
      const relayed = errors ? { ...details, errors } : details;
      return new AppError(
        422,
        'validation_error',
        message ?? 'Truedy could not validate the upload.',
        relayed,
      );
    }
    case 401:
    case 403:
      return AppError.of('upstream_auth_failed', undefined, { upstream_status: status });
    case 404:
      if (op === 'get') return AppError.of('not_found', 'No voice with this id.');
      break;
  }
  return AppError.of('upstream_error', undefined, { upstream_status: status });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
