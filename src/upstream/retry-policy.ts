import { isRecord } from '../values.js';

/**
 * The retry policy toward Truedy (SPEC "Retry policy and pacing"), as pure functions: the caller
 * passes the clock reading and a random source, so every branch is tested without waiting.
 */

/** Settings from SPEC's RETRY_* variables. */
export interface RetrySettings {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  budgetMs: number;
}

/** What one attempt ended with, as far as the policy cares. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; headers: Headers; body: unknown }
  /** The connection never opened (refused, DNS): nothing reached Truedy. */
  | { kind: 'connect_failed' }
  /**
   * The connection broke before the whole request had been written to it (a pooled keep-alive
   * connection the server had just closed, a reset mid-upload): Truedy never had a complete
   * request to act on, so a retry cannot create a second voice (RFC 9112 §9.3.1).
   */
  | { kind: 'unsent' }
  /** The attempt ran past UPSTREAM_TIMEOUT_MS. */
  | { kind: 'timeout' }
  /** The connection broke after the request may have been sent. */
  | { kind: 'network' }
  /**
   * Truedy answered (with `status`) but the body ran past UPSTREAM_MAX_RESPONSE_BYTES: reading
   * stopped and the connection was closed. Never retried: a 2xx may have created the voice.
   */
  | { kind: 'too_large'; status: number };

/** Lower-cased response headers as Node gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** The policy's answer after a failed attempt. */
export type RetryDecision =
  | { retry: true; delayMs: number; source: WaitSource }
  | {
      retry: false;
      reason: 'not_retryable' | 'attempts_spent' | 'wait_too_long' | 'budget';
      retryAfterMs?: number;
    };

/** Where a wait came from; logged with each wait. */
export type WaitSource = 'retry-after' | 'reset-at' | 'x-ratelimit-reset' | 'backoff';

/** Facts the policy decides on; `now` and `random` are injected. */
export interface RetryInput {
  outcome: AttemptOutcome;
  /** Attempts made so far, the failed one included (1 after the first). */
  attempt: number;
  /** Milliseconds since the first attempt started. */
  elapsedMs: number;
  /** Reads may be retried on more failures than a clone, which costs credits (SPEC). */
  idempotent: boolean;
  settings: RetrySettings;
  now: number;
  random: () => number;
}

/**
 * Is this outcome one a retry cannot turn into a second voice? `hasRetryAfter`: the answer carries
 * a usable Retry-After, the only sign SPEC accepts on a 503 (a reset time in the body or in
 * X-RateLimit-Reset headers belongs to the rate limit, not to an outage).
 */
export function isRetryable(outcome: AttemptOutcome, idempotent: boolean, hasRetryAfter: boolean): boolean {
  switch (outcome.kind) {
    case 'connect_failed':
    case 'unsent':
      return true;
    case 'timeout':
    case 'network':
      return idempotent;
    case 'too_large':
      return false;
    case 'response':
      if (outcome.status === 429) return true;
      // A 503 with Retry-After is Truedy saying "come back then"; without one it may be a crash mid-clone.
      if (outcome.status === 503) return idempotent || hasRetryAfter;
      return idempotent && (outcome.status === 502 || outcome.status === 504);
  }
}

/** Decides whether to retry and after how long, or why not. */
export function decideRetry(input: RetryInput): RetryDecision {
  const { outcome, attempt, settings, random } = input;
  const told =
    outcome.kind === 'response' ? upstreamWait(outcome.headers, outcome.body, input.now) : undefined;
  if (!isRetryable(outcome, input.idempotent, told?.source === 'retry-after'))
    return { retry: false, reason: 'not_retryable' };

  const backoffCeiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1));
  const retryAfterMs = told?.ms ?? backoffCeiling;
  if (attempt >= settings.maxAttempts) return { retry: false, reason: 'attempts_spent', retryAfterMs };
  if (told && told.ms > settings.maxDelayMs) return { retry: false, reason: 'wait_too_long', retryAfterMs };

  const delayMs = told
    ? Math.min(settings.maxDelayMs, told.ms + spread(told.ms, random))
    : Math.floor(random() * backoffCeiling); // full jitter (AWS architecture blog, "Exponential Backoff And Jitter")
  if (input.elapsedMs + delayMs > settings.budgetMs) return { retry: false, reason: 'budget', retryAfterMs };
  return { retry: true, delayMs, source: told?.source ?? 'backoff' };
}

/**
 * A small random spread on a wait the upstream named, so that requests that all met the same
 * limit do not fire at the same instant when it resets: up to 10% of the wait, 50 ms to 1 s.
 */
export function spread(waitMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(1000, Math.max(50, waitMs * 0.1)));
}

/**
 * How long the upstream asked us to wait, first source present (SPEC order): Retry-After (RFC 9110
 * §10.2.3, delta-seconds or HTTP-date), body `error.details.reset_at` against the body's own
 * `meta.ts`, then `X-RateLimit-Reset` / `X-RateLimit-Reset-<window>` (Unix seconds, earliest ahead).
 */
export function upstreamWait(
  headers: Headers,
  body: unknown,
  now: number,
): { ms: number; source: WaitSource } | undefined {
  // Absolute times in headers are read against the response's own Date when it has one, so clock skew cancels out.
  const dateHeader = Date.parse(header(headers, 'date') ?? '');
  const reference = Number.isNaN(dateHeader) ? now : dateHeader;

  const retryAfter = header(headers, 'retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return { ms: Number(retryAfter) * 1000, source: 'retry-after' };
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return { ms: Math.max(0, at - reference), source: 'retry-after' };
  }

  const resetAt = bodyResetAt(body);
  if (resetAt) {
    const serverNow = resetAt.ts ?? now;
    return { ms: Math.max(0, resetAt.reset - serverNow), source: 'reset-at' };
  }

  let earliest: number | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (!/^x-ratelimit-reset(-[\w-]+)?$/.test(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (!v || !/^\s*\d+(\.\d+)?\s*$/.test(v)) continue;
      const ms = Number(v) * 1000 - reference;
      if (ms > 0 && (earliest === undefined || ms < earliest)) earliest = ms;
    }
  }
  return earliest === undefined ? undefined : { ms: Math.ceil(earliest), source: 'x-ratelimit-reset' };
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bodyResetAt(body: unknown): { reset: number; ts?: number } | undefined {
  if (!isRecord(body)) return undefined;
  const details = isRecord(body.error) && isRecord(body.error.details) ? body.error.details : {};
  const reset = typeof details.reset_at === 'string' ? Date.parse(details.reset_at) : Number.NaN;
  if (Number.isNaN(reset)) return undefined;
  const meta = isRecord(body.meta) ? body.meta : {};
  const ts = typeof meta.ts === 'string' ? Date.parse(meta.ts) : Number.NaN;
  return Number.isNaN(ts) ? { reset } : { reset, ts };
}

/** Whole seconds for a `Retry-After` header: at least 1, rounded up (RFC 9110 delta-seconds). */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
