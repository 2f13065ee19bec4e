/**
 * The domain's error model: what went wrong, with the facts a caller needs (how many upstream
 * attempts, how long to wait, which limit). No status codes and no headers live here: `http/`
 * maps every code to SPEC's table in one place (src/http/error-table.ts).
 */

/** Every code this service answers with, and its default message (SPEC "Errors"). */
export const ERROR_MESSAGES = {
  invalid_request: 'The request is not a valid clone request.',
  invalid_audio: 'A file could not be read as audio.',
  consent_required: "Confirm that you have the speaker's permission to clone this voice.",
  unauthorized: 'A valid credential is required.',
  origin_not_allowed: 'This origin is not allowed to call the service.',
  not_found: 'Not found.',
  idempotency_conflict: 'A request with this Idempotency-Key is still in progress.',
  payload_too_large: 'The upload is too large.',
  unsupported_media_type: 'Unsupported media type.',
  idempotency_key_reuse: 'This Idempotency-Key was already used for a different upload.',
  audio_too_short: 'The audio is too short.',
  audio_too_long: 'The audio is too long.',
  rate_limited: 'Too many requests; try again later.',
  upstream_rate_limited: 'Truedy is rate limiting this service; try again later.',
  upstream_auth_failed: 'The service could not authenticate with Truedy.',
  upstream_error: 'Truedy answered with an error.',
  upstream_invalid_response: 'Truedy answered with an unexpected response.',
  upstream_unavailable: 'Truedy could not be reached.',
  upstream_timeout: 'Truedy did not answer in time.',
  shutting_down: 'The service is shutting down; try again shortly.',
  store_unavailable: 'The shared store is unavailable; try again shortly.',
  insufficient_storage: 'The service has no room to receive the upload right now; try again shortly.',
  audit_unavailable: 'The audit trail cannot be written, so no clone is made; try again shortly.',
  auth_unavailable: 'The identity provider cannot be reached to check the credential; try again shortly.',
  internal_error: 'Internal error.',
} as const satisfies Record<string, string>;

/** A code from ERROR_MESSAGES: the closed set of codes the service itself emits. */
export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** What a failure tells its caller beyond its code; http/ turns these into headers. */
export interface ErrorFacts {
  /** Upstream calls this request made before failing (X-Upstream-Attempts). */
  attempts?: number;
  /** How long the caller should wait before trying again (Retry-After). */
  retryAfterMs?: number;
  /** Truedy's id for the request that failed, when it answered with one (logs and the audit trail only). */
  upstreamRequestId?: string;
  /**
   * Truedy answered 2xx and the answer still failed (no voice id, too large): the voice may exist
   * and credits were spent (SPEC), so the failure is as final as a success for an Idempotency-Key.
   */
  voiceMayExist?: boolean;
}

/** A failure with one of the service's own codes. */
export class ServiceError extends Error {
  readonly facts: ErrorFacts;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    facts: ErrorFacts = {},
  ) {
    super(message ?? ERROR_MESSAGES[code]);
    this.name = 'ServiceError';
    this.facts = facts;
  }

  /** The same error with more facts (e.g. the attempt count, known only to the caller). */
  with(facts: ErrorFacts): ServiceError {
    return new ServiceError(this.code, this.message, this.details, { ...this.facts, ...facts });
  }
}

/**
 * How Truedy refused a clone it received, relayed to the caller as its own family of codes (SPEC:
 * 400, 402 and 422 carry upstream's code, message and details). Each kind has the code used when
 * Truedy names none.
 */
export const REFUSAL_KINDS = {
  payload: { fallbackCode: 'bad_request', message: 'Truedy refused the request.' },
  credits: { fallbackCode: 'insufficient_credits', message: 'Not enough Truedy credits to clone a voice.' },
  validation: { fallbackCode: 'validation_error', message: 'Truedy could not validate the request.' },
} as const;

/** One kind of upstream refusal. */
export type RefusalKind = keyof typeof REFUSAL_KINDS;

/** Every code that can appear in an answer's `error.code`: the service's own, and each refusal kind's fallback. */
export const ANSWERED_CODES: readonly string[] = [
  ...Object.keys(ERROR_MESSAGES),
  ...Object.values(REFUSAL_KINDS).map((k) => k.fallbackCode),
];

/** A relayed code is kept only when it is a plain identifier; anything else becomes the kind's fallback. */
export const RELAYED_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** Truedy refused the request itself; its code, message and details are relayed (already redacted). */
export class UpstreamRefusal extends Error {
  readonly code: string;
  readonly facts: ErrorFacts;

  constructor(
    readonly kind: RefusalKind,
    code: string | undefined,
    message: string | undefined,
    readonly details?: Record<string, unknown>,
    facts: ErrorFacts = {},
  ) {
    super(message ?? REFUSAL_KINDS[kind].message);
    this.name = 'UpstreamRefusal';
    // 422 is always `validation_error` (SPEC); the others keep Truedy's code when it is a plain one.
    this.code =
      kind !== 'validation' && code !== undefined && RELAYED_CODE.test(code)
        ? code
        : REFUSAL_KINDS[kind].fallbackCode;
    this.facts = facts;
  }
}

/**
 * The caller went away before its answer: the reason the waits and the steps still to come stop
 * with (SPEC: a client that disconnects cancels the wait and the attempts still to come). Nobody
 * is left to answer, so it has no code.
 */
export class CallerGone extends Error {
  constructor() {
    super('the client went away before its answer');
    this.name = 'CallerGone';
  }
}

/** Did this step stop because its caller went away? (A timer's AbortError carries the reason as its cause.) */
export function isCallerGone(e: unknown): boolean {
  return e instanceof CallerGone || (e instanceof Error && e.cause instanceof CallerGone);
}

/** Any error the domain raises on purpose; everything else is a bug (500 internal_error). */
export type DomainError = ServiceError | UpstreamRefusal;

/** Is `e` an error the domain raised on purpose? */
export function isDomainError(e: unknown): e is DomainError {
  return e instanceof ServiceError || e instanceof UpstreamRefusal;
}

/** The size limits SPEC names in `details.limit` of a 413. */
export type LimitName = 'MAX_FILES' | 'MAX_FILE_BYTES' | 'MAX_TOTAL_BYTES';

/** A payload_too_large naming the limit that was hit, its value, and the file when one is to blame. */
export function tooLarge(limit: LimitName, value: number, filename?: string): ServiceError {
  const what = {
    MAX_FILES: `At most ${value} files per request.`,
    MAX_FILE_BYTES: `Each file may be at most ${value} bytes.`,
    MAX_TOTAL_BYTES: `All files together may be at most ${value} bytes.`,
  }[limit];
  return new ServiceError('payload_too_large', what, {
    limit,
    value,
    ...(filename === undefined ? {} : { filename }),
  });
}
