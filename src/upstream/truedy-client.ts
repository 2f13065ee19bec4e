import { Readable } from 'node:stream';
import { type Span, SpanKind } from '@opentelemetry/api';
import got, { type Options, RequestError, TimeoutError, UploadError } from 'got';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { type DomainError, ServiceError } from '../errors.js';
import { type UpstreamOperation, upstreamError } from '../normalize/upstream-error.js';
import type { Slot, UpstreamGate } from '../stores/upstream-gate.js';
import {
  ATTR_HTTP_REQUEST_BODY_SIZE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '../tracing/semconv.js';
import { ATTR, recordError, SPAN, traceHeaders, type WaitReason, withSpan } from '../tracing/spans.js';
import { isRecord } from '../values.js';
import {
  type AttemptOutcome,
  decideRetry,
  type RetrySettings,
  retryAfterSeconds,
  upstreamWait,
} from './retry-policy.js';

/** A request body that can be produced again, byte for byte, for every attempt. */
export interface ReplayableBody {
  contentLength: number;
  /** A fresh stream of the body, or the whole body in one buffer when it is small and in memory. */
  open(): Readable | Buffer;
}

/** Per-call context: who asked, and the signal that fires when they go away. */
export interface CallContext {
  requestId: string;
  /**
   * Fires when the caller goes away: the waits and the attempts still to come are cancelled (SPEC),
   * and so is an attempt whose body is not all sent; one Truedy has whole runs to its answer.
   */
  signal: AbortSignal;
  log: Logger;
  /**
   * Told as each attempt begins, so the request's log line counts the attempts made also when the
   * caller leaves mid-call (its line is written when the client goes, the call ends later).
   */
  onAttempt?: (attempt: number) => void;
}

/** A 2xx from Truedy, with what the route needs to answer. */
export interface UpstreamSuccess {
  status: number;
  /** The voice object: the envelope's `data`, or the body itself when it has no envelope. */
  data: unknown;
  attempts: number;
  upstreamRequestId: string | null;
  receivedAt: Date;
}

/** What the metrics want to know about each attempt and wait. */
export interface UpstreamObserver {
  attempt(operation: UpstreamOperation, outcome: string, seconds: number): void;
  wait(operation: UpstreamOperation, seconds: number): void;
}

/** The two Truedy calls this service makes. */
export interface TruedyClient {
  cloneVoice(body: ReplayableBody, ctx: CallContext): Promise<UpstreamSuccess>;
  getVoice(id: string, ctx: CallContext): Promise<UpstreamSuccess>;
}

/** Everything the client depends on, injected. */
export interface TruedyClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  /** The largest answer read, counted after decompression (UPSTREAM_MAX_RESPONSE_BYTES). */
  maxResponseBytes: number;
  retry: RetrySettings;
  gate: UpstreamGate;
  clock: Clock;
  /** Applied to every parsed answer before anything else sees it: secrets Truedy echoes never travel on. */
  redact: (value: unknown) => unknown;
  random?: () => number;
  observer?: UpstreamObserver;
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** What one attempt came back with: the policy's view of it, and how much of the body left. */
interface Attempt {
  outcome: AttemptOutcome;
  /** Body bytes the socket took (got's upload progress). */
  bytesSent: number;
}

/**
 * A got `beforeRequest` hook that empties `cacheOptions`: only a `cache` reads them, and the client
 * sets none (one that does must drop this hook). got spreads them first into the options it hands
 * to `http.request`, then sets about 30 more, and on Node 20's V8 each property set after a
 * non-empty spread makes a new hidden class: every request's options had a shape of their own,
 * and each function that read them, in got and in Node's http, missed its inline caches. Measured
 * on Node 20: 80–100 µs less CPU per POST in a got-only client, and got's options building (0.9%
 * of the service's event loop on small uploads) gone from the profile; Node 24 is not affected
 * (docs/performance.md).
 */
export function emptyCacheOptions(options: Pick<Options, 'cacheOptions'>): void {
  options.cacheOptions = {};
}

/**
 * Builds the Truedy client. got is the transport for single attempts, with its own retry off: the
 * loop here owns retries because each attempt must first pass the shared cooldown and pacing gate
 * (which may live in Redis) and every wait must stop when the caller disconnects; got's
 * `calculateDelay` can do neither, and the pure `decideRetry` stays testable on its own.
 */
export function createTruedyClient(options: TruedyClientOptions): TruedyClient {
  const { clock, gate, retry } = options;
  const random = options.random ?? Math.random;
  // The settings every attempt shares, merged once: got validates and merges each option it is
  // given, per request, so only what changes per attempt is passed below.
  const http = got.extend({
    headers: { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' },
    timeout: { request: options.timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    hooks: { beforeRequest: [emptyCacheOptions] },
  });

  /**
   * One HTTP exchange. The answer is read as a stream and counted after decompression: past
   * UPSTREAM_MAX_RESPONSE_BYTES reading stops and the connection is destroyed, so no answer,
   * however large or however well it compresses, can take the process's memory (SPEC "Errors").
   */
  async function attemptOnce(
    method: 'GET' | 'POST',
    url: string,
    body: ReplayableBody | undefined,
    ctx: CallContext,
  ): Promise<Attempt> {
    const produced = body?.open();
    const stream = produced instanceof Readable ? produced : undefined;
    const request = http.stream(url, {
      method,
      body: produced,
      headers: {
        'x-request-id': ctx.requestId,
        // W3C traceparent of this attempt's span: Truedy's side of the call joins the trace.
        ...traceHeaders(),
        ...(body ? { 'content-type': 'application/json', 'content-length': String(body.contentLength) } : {}),
      },
    });
    const sent = () => request.uploadProgress.transferred;
    // A caller gone while the body is still going out stops the send: Truedy never had a whole
    // request, so nothing was made. Once Truedy has the body the attempt runs to its answer (SPEC
    // cancels the waits and the attempts still to come): the voice may be on its way, and its
    // answer is still kept for the Idempotency-Key and audited. A read is simply stopped.
    let stopped = false;
    const stopUnsent = () => {
      if (body && sent() >= body.contentLength) return;
      stopped = true;
      // With an error: got's stream then fails, so the wait for its answer below ends too.
      request.destroy(ctx.signal.reason);
    };
    ctx.signal.addEventListener('abort', stopUnsent, { once: true });
    // Gone in the moment between the slot and this attempt: an abort event will not come again.
    if (ctx.signal.aborted) stopUnsent();
    try {
      const { statusCode, headers } = await new Promise<{ statusCode: number; headers: AttemptHeaders }>(
        (resolve, reject) => {
          request.once('response', resolve);
          request.once('error', reject);
        },
      );
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > options.maxResponseBytes) {
          request.destroy();
          return { outcome: { kind: 'too_large', status: statusCode }, bytesSent: sent() };
        }
        chunks.push(chunk);
      }
      const parsed = parseJson(Buffer.concat(chunks, size).toString('utf8'));
      return {
        outcome: {
          kind: 'response',
          status: statusCode,
          headers: redactRequestId(headers, options.redact),
          body: options.redact(parsed),
        },
        bytesSent: sent(),
      };
    } catch (error) {
      if (stopped) throw ctx.signal.reason;
      // The body could not be produced (a spooled file removed or cut short under us): our own
      // failure, which no retry can mend and Truedy must not be blamed for.
      if (error instanceof UploadError) {
        ctx.log.error({ err: { message: error.message } }, 'could not read the spooled upload');
        throw new ServiceError('internal_error');
      }
      if (error instanceof TimeoutError) return { outcome: { kind: 'timeout' }, bytesSent: sent() };
      const code = error instanceof RequestError ? error.code : undefined;
      if (code && CONNECT_FAILURES.has(code)) return { outcome: { kind: 'connect_failed' }, bytesSent: 0 };
      // got counts a body byte as uploaded only once the socket has taken it: fewer than the whole
      // body means the connection broke before Truedy could have had a complete request.
      if (body && sent() < body.contentLength) {
        ctx.log.warn(
          { err: { code }, uploaded: sent() },
          'upstream connection broke before the request was sent',
        );
        return { outcome: { kind: 'unsent' }, bytesSent: sent() };
      }
      ctx.log.warn({ err: { code, message: (error as Error).message } }, 'upstream connection failed');
      return { outcome: { kind: 'network' }, bytesSent: sent() };
    } finally {
      ctx.signal.removeEventListener('abort', stopUnsent);
      request.destroy();
      stream?.destroy();
    }
  }

  /**
   * Waits for a send slot that respects cooldown and pacing, or gives up when the budget cannot
   * cover it. A slot that will not be used (the caller left, a cooldown moved it) is given back,
   * so nobody's leaving costs the others their share of the cap.
   */
  async function waitForSlot(op: UpstreamOperation, deadline: number, attempts: number, ctx: CallContext) {
    for (;;) {
      const now = clock.now();
      const slot = await gate.reserve(now, deadline);
      if (!slot.ok)
        throw rateLimited(slot.at - now, attempts, 'pacing or cooldown wait exceeds the retry budget');
      try {
        if (slot.at > now) {
          // A slot at the shared cooldown's end waits out a 429's reset; any other, the pacing queue.
          const reason = (await gate.cooldownUntil()) >= slot.at ? 'cooldown' : 'pacing';
          ctx.log.info({ op, waitMs: slot.at - now, reason }, 'waiting for an upstream slot');
          options.observer?.wait(op, (slot.at - now) / 1000);
          await wait(reason, slot.at - now, ctx);
        }
        // A 429 seen elsewhere while we waited moves the whole queue behind the announced reset.
        if ((await gate.cooldownUntil()) <= clock.now()) {
          // Gone while the slot was booked, waited for or checked: no attempt is started for nobody.
          ctx.signal.throwIfAborted();
          return;
        }
      } catch (error) {
        await giveBack(slot);
        throw error;
      }
      await giveBack(slot);
    }
  }

  /** Gives a slot back; a store that cannot be reached lets it expire with its window instead. */
  function giveBack(slot: Slot): Promise<void> {
    return gate.release(slot).catch(() => undefined);
  }

  /**
   * One call: attempts until one succeeds or the policy gives up, its waits included. Each attempt
   * begun is told to `ctx.onAttempt`, so a caller gone mid-call still knows how many were made.
   */
  async function call(
    op: UpstreamOperation,
    method: 'GET' | 'POST',
    url: string,
    body: ReplayableBody | undefined,
    ctx: CallContext,
  ): Promise<UpstreamSuccess> {
    const start = clock.now();
    const deadline = start + retry.budgetMs;
    for (let attempt = 1; ; attempt++) {
      await waitForSlot(op, deadline, attempt - 1, ctx);
      ctx.onAttempt?.(attempt);
      const t0 = clock.now();
      const { outcome } = await withSpan(
        `${method} ${URL_TEMPLATES[op]}`,
        attemptAttributes(method, attempt),
        async (span) => {
          const result = await attemptOnce(method, url, body, ctx);
          span.setAttribute(ATTR_HTTP_REQUEST_BODY_SIZE, result.bytesSent);
          recordOutcome(span, result.outcome);
          return result;
        },
        SpanKind.CLIENT,
      );
      const label = outcome.kind === 'response' ? String(outcome.status) : outcome.kind;
      const seconds = (clock.now() - t0) / 1000;
      options.observer?.attempt(op, label, seconds);
      ctx.log.info(
        { op, attempt, outcome: label, durationMs: Math.round(seconds * 1000) },
        'upstream attempt',
      );

      if (outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300) {
        return success(outcome.status, outcome.body, attempt, outcome.headers, clock.now());
      }
      if (outcome.kind === 'response' && outcome.status === 429) {
        const told = upstreamWait(outcome.headers, outcome.body, clock.now());
        if (told) await gate.setCooldown(clock.now() + told.ms);
      }
      if (outcome.kind === 'too_large') {
        // A 2xx this large may still have created a voice and spent credits: never retried, and
        // said loudly so an operator can look for it in Truedy.
        ctx.log.error(
          { op, attempt, upstream_status: outcome.status, limit: options.maxResponseBytes },
          outcome.status >= 200 && outcome.status < 300
            ? 'Truedy answered 2xx with a body over UPSTREAM_MAX_RESPONSE_BYTES: a voice may have been created'
            : 'Truedy answered with a body over UPSTREAM_MAX_RESPONSE_BYTES',
        );
      }
      const decision = decideRetry({
        outcome,
        attempt,
        elapsedMs: clock.now() - start,
        idempotent: method === 'GET',
        settings: retry,
        now: clock.now(),
        random,
      });
      if (!decision.retry) {
        ctx.log.info({ op, attempt, reason: decision.reason }, 'upstream: giving up');
        throw finalError(op, outcome, decision.retryAfterMs, attempt, options.maxResponseBytes);
      }
      ctx.log.info({ op, attempt, waitMs: decision.delayMs, source: decision.source }, 'upstream: retrying');
      options.observer?.wait(op, decision.delayMs / 1000);
      await wait(decision.source, decision.delayMs, ctx);
    }
  }

  /** One wait, as its own span with its reason and planned length. */
  function wait(reason: WaitReason, ms: number, ctx: CallContext): Promise<void> {
    return withSpan(SPAN.upstreamWait, { [ATTR.waitReason]: reason, [ATTR.waitPlannedMs]: ms }, () =>
      clock.sleep(ms, ctx.signal),
    );
  }

  /** Where Truedy is, for the attempt spans: host and port only (never credentials or a path). */
  const target = new URL(options.baseUrl);
  function attemptAttributes(method: string, attempt: number) {
    return {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_SERVER_ADDRESS]: target.hostname,
      [ATTR_SERVER_PORT]: Number(target.port) || (target.protocol === 'https:' ? 443 : 80),
      [ATTR_HTTP_REQUEST_RESEND_COUNT]: attempt - 1,
      [ATTR.attempt]: attempt,
    };
  }

  /** The whole call, retries and waits included, as one span whose children are its attempts and waits. */
  function traced(op: UpstreamOperation, run: () => Promise<UpstreamSuccess>): Promise<UpstreamSuccess> {
    return withSpan(`${SPAN.upstreamCall} ${op}`, { [ATTR.operation]: op }, async (span) => {
      const result = await run();
      span.setAttribute(ATTR.attempts, result.attempts);
      return result;
    });
  }

  return {
    cloneVoice: (body, ctx) =>
      traced('clone', () => call('clone', 'POST', `${options.baseUrl}/voices/clone`, body, ctx)),
    // One encoded path segment: no id can reach another Truedy route (SPEC). A URL parser takes
    // `.` and `..` as path steps (WHATWG URL, and RFC 3986 section 5.2.4), so they would reach
    // /voices/ or the API's root: they name no voice.
    getVoice: (id, ctx) =>
      id === '.' || id === '..'
        ? Promise.reject(new ServiceError('not_found', 'No voice has this id.'))
        : traced('get', () =>
            call('get', 'GET', `${options.baseUrl}/voices/${encodeURIComponent(id)}`, undefined, ctx),
          ),
  };
}

/** Truedy's routes as templates, for span names (OpenTelemetry HTTP client spans: `METHOD template`). */
const URL_TEMPLATES: Record<UpstreamOperation, string> = {
  clone: '/voices/clone',
  get: '/voices/{voice_id}',
};

/** An attempt's outcome on its span; a status of 400 or more, or no answer at all, marks it failed. */
function recordOutcome(span: Span, outcome: AttemptOutcome): void {
  if (outcome.kind === 'response') {
    span.setAttributes({
      [ATTR_HTTP_RESPONSE_STATUS_CODE]: outcome.status,
      [ATTR.outcome]: String(outcome.status),
    });
    if (outcome.status >= 400) recordError(span, { name: String(outcome.status) });
    return;
  }
  span.setAttribute(ATTR.outcome, outcome.kind);
  recordError(span, { name: outcome.kind });
}

/** Response headers as Node gives them. */
type AttemptHeaders = Record<string, string | string[] | undefined>;

function success(
  status: number,
  body: unknown,
  attempts: number,
  headers: AttemptHeaders,
  now: number,
): UpstreamSuccess {
  const b = isRecord(body) ? body : {};
  return {
    status,
    data: isRecord(b.data) ? b.data : body,
    attempts,
    upstreamRequestId: requestIdOf(body, headers),
    receivedAt: new Date(now),
  };
}

/**
 * The headers with Truedy's `X-Request-Id` redacted: it is relayed (`meta.upstream_request_id`,
 * the logs, the audit trail) like the body, whose secrets are already replaced (SPEC "Errors").
 */
function redactRequestId(headers: AttemptHeaders, redact: (value: unknown) => unknown): AttemptHeaders {
  const id = headers['x-request-id'];
  return typeof id === 'string' ? { ...headers, 'x-request-id': redact(id) as string } : headers;
}

/** Truedy's id for a request: its envelope's `meta.request_id`, else its `X-Request-Id` header. */
function requestIdOf(body: unknown, headers: AttemptHeaders): string | null {
  const meta = isRecord(body) && isRecord(body.meta) ? body.meta : {};
  if (typeof meta.request_id === 'string') return meta.request_id;
  return typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : null;
}

function finalError(
  op: UpstreamOperation,
  outcome: AttemptOutcome,
  retryAfterMs: number | undefined,
  attempts: number,
  maxResponseBytes: number,
): DomainError {
  switch (outcome.kind) {
    case 'connect_failed':
    case 'unsent':
    case 'network':
      return new ServiceError('upstream_unavailable', undefined, undefined, { attempts });
    case 'timeout':
      return new ServiceError('upstream_timeout', undefined, undefined, { attempts });
    case 'too_large':
      return new ServiceError(
        'upstream_invalid_response',
        'Truedy answered with a body larger than this service reads.',
        { limit: 'UPSTREAM_MAX_RESPONSE_BYTES', value: maxResponseBytes, upstream_status: outcome.status },
        { attempts, voiceMayExist: outcome.status >= 200 && outcome.status < 300 },
      );
    case 'response': {
      if (outcome.status === 429)
        return rateLimited(retryAfterMs ?? 1000, attempts, 'Truedy kept answering 429');
      const upstreamRequestId = requestIdOf(outcome.body, outcome.headers) ?? undefined;
      return upstreamError(outcome.status, outcome.body, op, { attempts, upstreamRequestId });
    }
  }
}

function rateLimited(waitMs: number, attempts: number, why: string): ServiceError {
  return new ServiceError(
    'upstream_rate_limited',
    undefined,
    { retry_after_seconds: Number(retryAfterSeconds(waitMs)), reason: why },
    { attempts, retryAfterMs: waitMs },
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
