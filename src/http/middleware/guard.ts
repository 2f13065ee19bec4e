import type { NextFunction, Request, Response } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import type { Config } from '../../config/config.js';
import { ServiceError } from '../../errors.js';
import { callerOf } from './authenticate.js';

const EXPOSED = [
  'X-Request-Id',
  'X-Upstream-Attempts',
  'Retry-After',
  'RateLimit',
  'RateLimit-Policy',
  'Idempotent-Replayed',
].join(', ');
/** Every request header SPEC lets a caller send, W3C trace context included (a web page's tracing sends it). */
const ALLOWED_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent, tracestate';

/**
 * CORS for ALLOWED_ORIGINS and the CSRF guard (SPEC 403 origin_not_allowed): a multipart POST from
 * another site needs no preflight, so a browser `Origin` that is neither this service nor allowed
 * is refused before the body is read. Requests without `Origin` (server to server) pass.
 */
export function originGuard(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins);
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (origin === undefined) return next();
    res.vary('Origin');
    const sameOrigin = origin === `${req.protocol}://${req.host}`;
    if (!sameOrigin && !allowed.has(origin)) {
      return next(new ServiceError('origin_not_allowed', undefined, { origin }));
    }
    if (!sameOrigin) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED);
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      return res.status(204).end();
    }
    next();
  };
}

/** Who a request counts against: its caller (token, person), else its IP (TRUST_PROXY honoured, IPv6 /56). */
export function clientKey(req: Request, res: Response): string {
  return callerOf(req, res).id;
}

/** The inbound limit on clone requests (SPEC 429 rate_limited), with draft-8 `RateLimit` headers. */
export function cloneRateLimit(config: Config, store?: Store) {
  return rateLimit({
    windowMs: config.rateLimit.windowMs,
    limit: config.rateLimit.max,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: 'clone',
    keyGenerator: clientKey,
    ...(store ? { store } : {}),
    passOnStoreError: false,
    handler: (_req, res, next) =>
      next(
        new ServiceError('rate_limited', 'Too many clone requests; try again later.', {
          retry_after_seconds: Number(res.getHeader('Retry-After')),
        }),
      ),
  });
}
