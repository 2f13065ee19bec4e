/** Every error code this service answers with, its status and default message: SPEC "Errors", in one table. */
export const ERROR_TABLE = {
  invalid_request: { status: 400, message: 'The request is not a valid clone request.' },
  unauthorized: { status: 401, message: 'A valid bearer token is required.' },
  origin_not_allowed: { status: 403, message: 'This origin is not allowed to call the service.' },
  not_found: { status: 404, message: 'Not found.' },
  idempotency_conflict: { status: 409, message: 'A request with this Idempotency-Key is still in progress.' },
  payload_too_large: { status: 413, message: 'The upload is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported media type.' },
  idempotency_key_reuse: {
    status: 422,
    message: 'This Idempotency-Key was already used for a different upload.',
  },
  rate_limited: { status: 429, message: 'Too many requests; try again later.' },
  upstream_rate_limited: { status: 429, message: 'Truedy is rate limiting this service; try again later.' },
  upstream_auth_failed: { status: 502, message: 'The service could not authenticate with Truedy.' },
  upstream_error: { status: 502, message: 'Truedy answered with an error.' },
  upstream_invalid_response: { status: 502, message: 'Truedy answered with an unexpected response.' },
  upstream_unavailable: { status: 502, message: 'Truedy could not be reached.' },
  upstream_timeout: { status: 504, message: 'Truedy did not answer in time.' },
  shutting_down: { status: 503, message: 'The service is shutting down; try again shortly.' },
  store_unavailable: { status: 503, message: 'The shared store is unavailable; try again shortly.' },
  internal_error: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A code from ERROR_TABLE. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** The one error type routes throw; the error handler turns it into SPEC's envelope. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  /** Builds an error from the table, optionally with a more specific message, details or headers. */
  static of(
    code: ErrorCode,
    message?: string,
    details?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): AppError {
    const row = ERROR_TABLE[code];
    return new AppError(row.status, code, message ?? row.message, details, headers);
  }
}

/** The size limits SPEC names in `details.limit` of a 413. */
export type LimitName = 'MAX_FILES' | 'MAX_FILE_BYTES' | 'MAX_TOTAL_BYTES';

/** A 413 naming the limit that was hit and its value. */
export function tooLarge(limit: LimitName, value: number, filename?: string): AppError {
  const what = {
    MAX_FILES: `At most ${value} files per request.`,
    MAX_FILE_BYTES: `Each file may be at most ${value} bytes.`,
    MAX_TOTAL_BYTES: `All files together may be at most ${value} bytes.`,
  }[limit];
  return AppError.of('payload_too_large', what, {
    limit,
    value,
    ...(filename === undefined ? {} : { filename }),
  });
}
