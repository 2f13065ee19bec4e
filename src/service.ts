import type { Logger } from 'pino';
import type { Readiness } from './api/schemas.js';
import {
  type AuditTrail,
  createFileAuditTrail,
  createLogAuditTrail,
  type OpenAuditFile,
} from './audit/audit-trail.js';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/config.js';
import { createApp } from './http/app.js';
import { createLifecycle, type Lifecycle, workSettled } from './http/lifecycle.js';
import { createMetrics } from './http/metrics.js';
import { DEFAULT_WEB_DIR } from './http/routes/form.js';
import { createAuthenticator } from './identity/authenticator.js';
import type { JwksOptions } from './identity/jwks-keys.js';
import { createRedactor, type Redactor } from './redact.js';
import { createMemoryIdempotencyStore } from './stores/idempotency.js';
import { createRedisStores, type RedisStores } from './stores/redis.js';
import { createMemoryGate, type UpstreamGate } from './stores/upstream-gate.js';
import { createMemoryBudget } from './upload/memory-budget.js';
import { type OpenWrite, openSpoolFolder, type SpoolFolder } from './upload/spool-folder.js';
import { createTurnBudget, type TurnBudget } from './upload/turn-budget.js';
import { createTruedyClient } from './upstream/truedy-client.js';

/** Overrides for tests and for main: where Truedy is and which clock and stores to use. */
export interface ServiceOptions {
  logger: Logger;
  upstreamName?: Readiness['upstream'];
  /** Required unless config has one (main passes the sandbox's). */
  apiKey?: string;
  baseUrl?: string;
  clock?: Clock;
  random?: () => number;
  gate?: UpstreamGate;
  /** Pacing window; 60 s per SPEC, shorter in tests. */
  pacingWindowMs?: number;
  lifecycle?: Lifecycle;
  webDir?: string;
  formPollMs?: number;
  /** How long a refused body may take to finish arriving; 10 s, shorter in tests. */
  lingerMs?: number;
  /** How spooled files are written; tests inject a failing disk (ENOSPC, EIO). */
  openWrite?: OpenWrite;
  /** How the JWKS is fetched and kept (jose's cooldown, cache age, timeout); tests shorten them. */
  jwks?: JwksOptions;
  /** How AUDIT_LOG is opened; tests inject a disk that fails. */
  openAuditFile?: OpenAuditFile;
  /** Upload bytes large requests take per turn of the event loop; tests run the turns by hand. */
  turnBudget?: TurnBudget;
}

/** How long a refused body may take to finish arriving (nginx's lingering_time is 30 s). */
const LINGER_MS = 10_000;

/** The secrets no answer or log line may carry: the Truedy key and every client token (SPEC "Errors"). */
export function serviceRedactor(config: Config, apiKey: string | undefined): Redactor {
  return createRedactor([apiKey ?? config.truedyApiKey, ...config.auth.clientTokens]);
}

/**
 * AUTH_PROXY_USER_HEADER is only as safe as TRUST_PROXY: with `true` or a hop count Express trusts
 * any peer, so anyone who reaches the port can name any person; with `false` the header never counts.
 */
function warnOnProxyTrust(config: Config, logger: Logger): void {
  if (!config.auth.proxyUserHeader) return;
  const trust = config.trustProxy;
  if (trust === false) {
    logger.warn('AUTH_PROXY_USER_HEADER is set but TRUST_PROXY is false: the header is never honoured');
  } else if (trust === true || typeof trust === 'number') {
    logger.warn(
      { trust_proxy: trust },
      'AUTH_PROXY_USER_HEADER with TRUST_PROXY as true or a hop count honours the header from any peer: name the proxy addresses instead',
    );
  }
}

/**
 * Wires config into stores, the Truedy client and the app (Uppy Companion's "standalone" idea):
 * the one place where defaults are set.
 */
export function createService(config: Config, options: ServiceOptions) {
  // Throws when UPLOAD_DIR cannot be used: main reports it as a start-up error.
  const spoolFolder = openSpoolFolder(config.uploadDir, { openWrite: options.openWrite });
  const pacing = { limit: config.upstreamRateLimitPerMinute, windowMs: options.pacingWindowMs ?? 60_000 };
  let redis: RedisStores | undefined;
  try {
    // REDIS_URL: limits, cooldown and pacing are shared by every instance (SPEC "Configuration").
    redis = config.redis ? createRedisStores(config.redis, pacing, options.logger) : undefined;
    return wire(config, options, { spoolFolder, redis, pacing });
  } catch (error) {
    // A start-up that fails past this point (a TLS file, TRUST_PROXY) leaves no folder behind, and
    // no Redis client reconnecting forever: the process (a test, an embedder) can still exit.
    void redis?.close();
    spoolFolder.close();
    throw error;
  }
}

/** What createService has opened before wiring the rest (released again when wiring fails), and the pacing Redis was made with. */
interface Opened {
  spoolFolder: SpoolFolder;
  redis: RedisStores | undefined;
  pacing: { limit: number; windowMs: number };
}

/** createService once the spool folder and the Redis client exist. */
function wire(config: Config, options: ServiceOptions, { spoolFolder, redis, pacing }: Opened) {
  const clock = options.clock ?? systemClock;
  if (spoolFolder.swept.length > 0) {
    options.logger.warn(
      { folders: spoolFolder.swept.length },
      'removed uploads left in UPLOAD_DIR by processes that died',
    );
  }
  // One per process: every request's in-memory parts count against it (SPEC MEMORY_BUFFER_TOTAL_BYTES).
  const memoryBudget = createMemoryBudget(config.memoryBuffer);
  // One per process too: large uploads share it, so one turn of the event loop stays short.
  const turnBudget = options.turnBudget ?? createTurnBudget();
  const metrics = createMetrics();
  const lifecycle = options.lifecycle ?? createLifecycle();
  const gate = options.gate ?? redis?.gate ?? createMemoryGate(pacing);
  const authenticator = createAuthenticator(config.auth, { clock, log: options.logger, jwks: options.jwks });
  // Start-up: fetch the provider's keys now; until they load, /readyz is 503 and JWT callers get 503.
  void authenticator.loadKeys();
  warnOnProxyTrust(config, options.logger);
  const audit: AuditTrail = config.auditLog
    ? createFileAuditTrail(config.auditLog, clock, options.openAuditFile)
    : createLogAuditTrail(options.logger);
  const apiKey = options.apiKey ?? config.truedyApiKey;
  if (!apiKey) throw new Error('createService: no Truedy API key');
  const upstream = createTruedyClient({
    baseUrl: options.baseUrl ?? config.truedyBaseUrl,
    apiKey,
    timeoutMs: config.upstreamTimeoutMs,
    maxResponseBytes: config.upstreamMaxResponseBytes,
    retry: config.retry,
    gate,
    clock,
    redact: serviceRedactor(config, apiKey).value,
    random: options.random,
    observer: metrics.observer,
  });
  const app = createApp({
    config,
    upstream,
    upstreamName: options.upstreamName ?? 'truedy',
    logger: options.logger,
    clock,
    metrics,
    lifecycle,
    rateLimitStore: redis?.rateLimitStore,
    idempotency: redis?.idempotency ?? createMemoryIdempotencyStore(10_000, () => clock.now()),
    authenticator,
    audit,
    spoolFolder,
    memoryBudget,
    turnBudget,
    form: { webDir: options.webDir ?? DEFAULT_WEB_DIR, pollMs: options.formPollMs ?? 3000 },
    lingerMs: options.lingerMs ?? LINGER_MS,
    storeHealthy: redis?.healthy,
  });
  return {
    app,
    lifecycle,
    metrics,
    gate,
    redis,
    spoolFolder,
    authenticator,
    audit,
    memoryBudget,
    /** Resolves once the shared store is connected (true), or after `timeoutMs` (false); true without Redis. */
    ready: (timeoutMs: number) => redis?.ready(timeoutMs) ?? Promise.resolve(true),
    /**
     * Resolves once every request's work has settled, also the work of clients that left (true), or
     * after `timeoutMs` (false): the drain waits for it before `close`.
     */
    workSettled: (timeoutMs: number) => workSettled(lifecycle, timeoutMs),
    /** Stops the stores and removes the spool folder; call once no request is in flight. */
    close: async () => {
      await redis?.close();
      await audit.close();
      spoolFolder.close();
    },
  };
}
