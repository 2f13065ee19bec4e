import express, { type Express } from 'express';
import type { Store } from 'express-rate-limit';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config/config.js';
import { createMemoryIdempotencyStore, type IdempotencyStore } from '../stores/idempotency.js';
import type { TruedyClient } from '../upstream/truedy-client.js';
import { errorHandler } from './error-handler.js';
import { AppError } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { clientAuth, cloneRateLimit, originGuard } from './middleware/guard.js';
import { requestContext } from './middleware/request-context.js';
import { OPENAPI } from './openapi.js';
import { cloneHandler } from './routes/clone.js';
import { DEFAULT_WEB_DIR, formRoutes } from './routes/form.js';
import { healthHandler, type Lifecycle, readyHandler } from './routes/health.js';
import { getVoiceHandler } from './routes/voices.js';

/** Everything the app is built from; tests build exactly what they need. */
export interface AppDeps {
  config: Config;
  upstream: TruedyClient;
  upstreamName: 'truedy' | 'sandbox';
  logger: Logger;
  clock?: Clock;
  metrics?: Metrics;
  lifecycle?: Lifecycle;
  /** Reachability of the shared store (Redis); absent when none is configured. */
  storeHealthy?: () => Promise<boolean>;
  /** Where inbound rate-limit counters live; express-rate-limit's memory store when absent. */
  rateLimitStore?: Store;
  /** Idempotency records; in memory when absent. */
  idempotency?: IdempotencyStore;
  /** Where the built form page lives (dist/web). */
  webDir?: string;
  /** How often the form polls a training voice. */
  formPollMs?: number;
  /** How long a refused body may take to finish arriving (LINGER_MS). */
  lingerMs?: number;
}

/** How long a refused body may take to finish arriving (nginx's lingering_time is 30 s). */
const LINGER_MS = 10_000;

/** Builds the Express app; it does not listen (only main.ts does). */
export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? createMetrics();
  const lifecycle = deps.lifecycle ?? { draining: false };
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestContext(logger, metrics, clock));
  app.use((_req, res, next) => {
    // While draining, every answer ends its connection so the process can exit.
    if (lifecycle.draining) res.setHeader('Connection', 'close');
    next();
  });
  // helmet's default CSP, minus upgrade-insecure-requests: an internal deployment on plain HTTP
  // (not localhost) would otherwise have the browser fetch the form's own script over HTTPS and fail.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));

  app.use(formRoutes(config, deps.webDir ?? DEFAULT_WEB_DIR, deps.formPollMs ?? 3000));
  app.get('/healthz', healthHandler);
  app.get(
    '/readyz',
    readyHandler({
      lifecycle,
      upstreamName: deps.upstreamName,
      storeHealthy: deps.storeHealthy ?? (() => true),
      redisConfigured: Boolean(config.redis),
    }),
  );
  app.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // While draining, new work is refused; in-flight requests finish (SPEC "Operations").
  app.use('/api', (_req, _res, next) => next(lifecycle.draining ? AppError.of('shutting_down') : undefined));
  // Order matters: preflights are answered and foreign origins refused before auth, and refused
  // requests never reach the rate limiter, so they do not count (SPEC 429 rate_limited).
  app.use('/api', originGuard(config.allowedOrigins), clientAuth(config.auth.clientTokens));
  app.post(
    '/api/voices/clone',
    cloneRateLimit(config, deps.rateLimitStore),
    cloneHandler({
      config,
      upstream: deps.upstream,
      clock,
      metrics,
      idempotency: deps.idempotency ?? createMemoryIdempotencyStore(),
    }),
  );
  app.get('/api/voices/:id', getVoiceHandler({ upstream: deps.upstream, clock }));

  app.use((req, _res, next) => next(AppError.of('not_found', `No route for ${req.method} ${req.path}.`)));
  app.use(
    errorHandler(logger, () => new Date(clock.now()), {
      // A refused body is read to its end when it is no larger than an accepted one could be and
      // arrives within LINGER_MS; otherwise the connection is cut.
      maxBytes: config.limits.maxRequestBytes,
      maxMs: deps.lingerMs ?? LINGER_MS,
    }),
  );
  return app;
}
