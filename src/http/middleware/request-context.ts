import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import '../locals.js';
import { apiRouteOf } from '../api-routes.js';
import type { Metrics } from '../metrics.js';

// A caller's id is echoed into logs and upstream headers, so only a plain token is taken over.
const CALLER_ID = /^[\w.:@-]{1,128}$/;

/**
 * Gives every request an id (the caller's `X-Request-Id` when it is a plain token, else a new
 * one), a child logger carrying it, and one JSON log line plus a metrics sample when it ends.
 */
export function requestContext(logger: Logger, metrics: Metrics, clock: Clock) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = clock.now();
    const incoming = req.get('x-request-id');
    const requestId = incoming && CALLER_ID.test(incoming) ? incoming : `req_${randomUUID()}`;
    const log = logger.child({ request_id: requestId });
    res.locals.requestId = requestId;
    res.locals.log = log;
    res.setHeader('X-Request-Id', requestId);

    res.once('close', () => {
      const route = req.route
        ? `${req.baseUrl}${String(req.route.path)}`
        : (apiRouteOf(req.originalUrl.split('?')[0] ?? '') ?? 'unmatched');
      const l = res.locals;
      const status = res.writableFinished ? res.statusCode : 499; // 499: client closed first (nginx's convention)
      metrics.httpRequests.inc({ method: req.method, route, status: String(status) });
      log.info(
        {
          method: req.method,
          route,
          status,
          duration_ms: clock.now() - started,
          bytes_in: l.uploadBytes ?? (Number(req.get('content-length')) || 0),
          bytes_out: Number(res.getHeader('content-length')) || 0,
          upstream_attempts: l.upstreamAttempts ?? 0,
          ...(l.audioSeconds === undefined ? {} : { audio_seconds: l.audioSeconds }),
          // Who asked (SPEC: in the request's log line); a person's id as it is, as the audit trail has it.
          ...(l.caller ? { caller: l.caller } : {}),
        },
        'request',
      );
    });
    next();
  };
}
