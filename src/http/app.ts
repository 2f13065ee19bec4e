import express, { type Express } from 'express';
import type { Store } from 'express-rate-limit';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Readiness } from '../api/schemas.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { Clock } from '../clock.js';
import { type Config, ConfigError } from '../config/config.js';
import { ServiceError } from '../errors.js';
import type { Authenticator } from '../identity/authenticator.js';
import type { IdempotencyStore } from '../stores/idempotency.js';
import type { MemoryBudget } from '../upload/memory-budget.js';
import type { SpoolFolder } from '../upload/spool-folder.js';
import type { TurnBudget } from '../upload/turn-budget.js';
import type { TruedyClient } from '../upstream/truedy-client.js';
import { API_ROUTES } from './api-routes.js';
import { errorHandler } from './error-handler.js';
import type { Lifecycle } from './lifecycle.js';
import type { Metrics } from './metrics.js';
import { authenticate } from './middleware/authenticate.js';
import { beforeBody } from './middleware/before-body.js';
import { cloneRateLimit, originGuard } from './middleware/guard.js';
import { requestContext } from './middleware/request-context.js';
import { OPENAPI } from './openapi.js';
import { cloneHandler } from './routes/clone.js';
import { auditRefusals } from './routes/clone-audit.js';
import { type FormOptions, formRoutes } from './routes/form.js';
import { healthHandler, readyHandler } from './routes/health.js';
import { getVoiceHandler } from './routes/voices.js';

/** Everything the app is built from, ready-made: `createService` is the one place that sets defaults. */
export interface AppDeps {
  config: Config;
  upstream: TruedyClient;
  upstreamName: Readiness['upstream'];
  logger: Logger;
  clock: Clock;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Reachability of the shared store (Redis); absent when none is configured. */
  storeHealthy?: () => Promise<boolean>;
  /** Where inbound rate-limit counters live; express-rate-limit's memory store when absent. */
  rateLimitStore?: Store;
  idempotency: IdempotencyStore;
  /** Who a request is (CLIENT_TOKENS, JWTs, the trusted proxy's user). */
  authenticator: Authenticator;
  /** Where each clone's audit entries go (AUDIT_LOG, or the log). */
  audit: AuditTrail;
  spoolFolder: Pick<SpoolFolder, 'dir' | 'openWrite'>;
  /** The process's allowance for upload bytes held in memory instead of the spool. */
  memoryBudget: MemoryBudget;
  /** Upload bytes large requests take together per turn of the event loop; none: no bound. */
  turnBudget?: TurnBudget;
  form: FormOptions;
  /** How long a refused body may take to finish arriving. */
  lingerMs: number;
}

/** Builds the Express app; it does not listen (only main.ts does). */
export function createApp(deps: AppDeps): Express {
  const { config, logger, clock, metrics, lifecycle } = deps;
  const app = express();
  app.disable('x-powered-by');
  try {
    app.set('trust proxy', config.trustProxy);
  } catch (error) {
    // Express compiles the addresses here (proxy-addr): its message alone names no variable.
    throw new ConfigError(
      'TRUST_PROXY',
      `must be true, false, a number of hops, or a comma list of addresses, subnets and loopback, linklocal or uniquelocal (${(error as Error).message})`,
    );
  }
  app.set('query parser', 'simple');

  app.use(requestContext(logger, metrics, clock));
  app.use((_req, res, next) => {
    // While draining, every answer ends its connection so the process can exit.
    if (lifecycle.draining) res.setHeader('Connection', 'close');
    next();
  });
  // helmet's default CSP, minus upgrade-insecure-requests: an internal deployment on plain HTTP
  // (not localhost) would otherwise have the browser fetch the form's own script over HTTPS and fail.
  // The one addition: the form plays each chosen file and recording from a blob: URL.
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { upgradeInsecureRequests: null, mediaSrc: ["'self'", 'blob:'] },
      },
    }),
  );

  app.use(formRoutes(config, deps.form));
  app.get('/healthz', healthHandler);
  app.get(
    '/readyz',
    readyHandler({
      lifecycle,
      upstreamName: deps.upstreamName,
      storeHealthy: deps.storeHealthy ?? (() => true),
      redisConfigured: Boolean(config.redis),
      authState: () => deps.authenticator.keysState(),
    }),
  );
  app.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // While draining, new work is refused; in-flight requests finish (SPEC "Operations").
  app.use('/api', (_req, _res, next) =>
    next(lifecycle.draining ? new ServiceError('shutting_down') : undefined),
  );
  // Order matters: preflights are answered and foreign origins refused before auth, and refused
  // requests never reach the rate limiter, so they do not count (SPEC 429 rate_limited).
  app.use(
    '/api',
    originGuard(config.allowedOrigins),
    authenticate(deps.authenticator, config.auth.proxyUserHeader),
  );
  app.post(
    API_ROUTES.clone,
    cloneRateLimit(config, deps.rateLimitStore),
    // Last of the steps that need no body: what it lets through is sent 100 Continue and read.
    beforeBody(config.limits),
    cloneHandler({
      config,
      upstream: deps.upstream,
      clock,
      metrics,
      idempotency: deps.idempotency,
      audit: deps.audit,
      spoolFolder: deps.spoolFolder,
      memoryBudget: deps.memoryBudget,
      turnBudget: deps.turnBudget,
      lifecycle,
    }),
  );
  app.get(API_ROUTES.voice, getVoiceHandler({ upstream: deps.upstream, clock }));

  // Every refused clone, wherever it was refused, gets its audit outcome before the error answer.
  app.use(API_ROUTES.clone, auditRefusals(deps.audit));
  app.use((req, _res, next) =>
    next(new ServiceError('not_found', `No route for ${req.method} ${req.path}.`)),
  );
  app.use(
    errorHandler(logger, () => new Date(clock.now()), {
      // A refused body is read to its end when it is no larger than an accepted one could be and
      // arrives within lingerMs; otherwise the connection is cut.
      maxBytes: config.limits.maxRequestBytes,
      maxMs: deps.lingerMs,
    }),
  );
  return app;
}
