import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/config.js';
import { type AppDeps, createApp } from './http/app.js';
import { createMetrics } from './http/metrics.js';
import type { Lifecycle } from './http/routes/health.js';
import { createRedisStores } from './stores/redis.js';
import { createMemoryGate, type UpstreamGate } from './stores/upstream-gate.js';
import { createTruedyClient } from './upstream/truedy-client.js';

/** Overrides for tests and for main: where Truedy is and which clock and stores to use. */
export interface ServiceOptions {
  logger: Logger;
  upstreamName?: AppDeps['upstreamName'];
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
}

/** Wires config into stores, the Truedy client and the app (Uppy Companion's "standalone" idea). */
export function createService(config: Config, options: ServiceOptions) {
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const lifecycle = options.lifecycle ?? { draining: false };
  const pacing = { limit: config.upstreamRateLimitPerMinute, windowMs: options.pacingWindowMs ?? 60_000 };
  // REDIS_URL: limits, cooldown and pacing are shared by every instance (SPEC "Configuration").
  const redis = config.redis ? createRedisStores(config.redis, pacing, options.logger) : undefined;
  const gate = options.gate ?? redis?.gate ?? createMemoryGate(pacing);
  const apiKey = options.apiKey ?? config.truedyApiKey;
  if (!apiKey) throw new Error('createService: no Truedy API key');
  const upstream = createTruedyClient({
    baseUrl: options.baseUrl ?? config.truedyBaseUrl,
    apiKey,
    timeoutMs: config.upstreamTimeoutMs,
    retry: config.retry,
    gate,
    clock,
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
    idempotency: redis?.idempotency,
    webDir: options.webDir,
    formPollMs: options.formPollMs,
    lingerMs: options.lingerMs,
    storeHealthy: redis?.healthy,
  });
  return {
    app,
    lifecycle,
    metrics,
    gate,
    redis,
    /** Resolves once the shared store is connected (true), or after `timeoutMs` (false); true without Redis. */
    ready: (timeoutMs: number) => redis?.ready(timeoutMs) ?? Promise.resolve(true),
    close: async () => {
      await redis?.close();
    },
  };
}
