import {
  type DomainError,
  type ErrorCode,
  type ErrorFacts,
  type RefusalKind,
  ServiceError,
} from '../errors.js';
import { retryAfterSeconds } from '../upstream/retry-policy.js';

/** How one code is answered: its status, and whether the answer names the auth scheme. */
interface Row {
  status: number;
  /** SPEC's 401 says which credential is wanted (RFC 9110 §11.6.1). */
  challenge?: boolean;
}

/**
 * SPEC "Errors", in one table: every code the service emits and its status. A `Record` over the
 * closed `ErrorCode` union, so a code without a row does not compile.
 */
export const ERROR_TABLE: Record<ErrorCode, Row> = {
  invalid_request: { status: 400 },
  invalid_audio: { status: 400 },
  consent_required: { status: 400 },
  unauthorized: { status: 401, challenge: true },
  origin_not_allowed: { status: 403 },
  not_found: { status: 404 },
  idempotency_conflict: { status: 409 },
  payload_too_large: { status: 413 },
  unsupported_media_type: { status: 415 },
  idempotency_key_reuse: { status: 422 },
  audio_too_short: { status: 422 },
  audio_too_long: { status: 422 },
  rate_limited: { status: 429 },
  upstream_rate_limited: { status: 429 },
  upstream_auth_failed: { status: 502 },
  upstream_error: { status: 502 },
  upstream_invalid_response: { status: 502 },
  upstream_unavailable: { status: 502 },
  upstream_timeout: { status: 504 },
  shutting_down: { status: 503 },
  store_unavailable: { status: 503 },
  insufficient_storage: { status: 503 },
  audit_unavailable: { status: 503 },
  auth_unavailable: { status: 503 },
  internal_error: { status: 500 },
};

/** The relayed family: Truedy's own refusals keep its code, under the status it used (SPEC). */
export const REFUSAL_STATUS: Record<RefusalKind, number> = { payload: 400, credits: 402, validation: 422 };

/** An error as it goes on the wire: status, headers, and SPEC's `error` object. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Facts become headers here and nowhere else. */
function factHeaders(facts: ErrorFacts): Record<string, string> {
  const headers: Record<string, string> = {};
  if (facts.attempts !== undefined && facts.attempts > 0)
    headers['X-Upstream-Attempts'] = String(facts.attempts);
  if (facts.retryAfterMs !== undefined) headers['Retry-After'] = retryAfterSeconds(facts.retryAfterMs);
  return headers;
}

/** Maps a domain error to its status, headers and envelope body. */
export function toHttpError(e: DomainError): HttpError {
  const error = { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
  const headers = factHeaders(e.facts);
  if (e instanceof ServiceError) {
    const row = ERROR_TABLE[e.code];
    if (row.challenge) headers['WWW-Authenticate'] = 'Bearer';
    return { status: row.status, headers, error };
  }
  return { status: REFUSAL_STATUS[e.kind], headers, error };
}
