import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/config.js';
import { type AppDeps, createApp } from './http/app.js';
import { createMetrics } from './http/metrics.js';
import type { Lifecycle } from './http/routes/health.js';
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
}

/** Wires config into stores, the Truedy client and the app (Uppy Companion's "standalone" idea). */
export function createService(config: Config, options: ServiceOptions) {
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const lifecycle = options.lifecycle ?? { draining: false };
  const gate =
    options.gate ??
    createMemoryGate({
      limit: config.upstreamRateLimitPerMinute,
      windowMs: options.pacingWindowMs ?? 60_000,
    });
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
  });
  return { app, lifecycle, metrics, gate, close: async () => {} };
}
