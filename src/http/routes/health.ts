import type { Request, Response } from 'express';
import type { Readiness } from '../../api/schemas.js';
import type { Lifecycle } from '../lifecycle.js';

/** `GET /healthz`: the process runs. */
export function healthHandler(_req: Request, res: Response) {
  res.json({ status: 'ok' });
}

/**
 * `GET /readyz`: ready unless draining, a configured Redis is unreachable, or JWTs are configured
 * and their keys have never loaded (SPEC "Other routes"; an instance that cannot check JWTs should
 * not be sent their callers while others can; keys once loaded are kept, so an identity provider
 * outage does not take running instances out).
 */
export function readyHandler(deps: {
  lifecycle: Lifecycle;
  upstreamName: Readiness['upstream'];
  storeHealthy: () => Promise<boolean> | boolean;
  redisConfigured: boolean;
  authState: () => Readiness['auth'];
}) {
  return async (_req: Request, res: Response) => {
    const redisOk = deps.redisConfigured ? await deps.storeHealthy() : true;
    const redis = deps.redisConfigured ? (redisOk ? 'ok' : 'unavailable') : 'disabled';
    const auth = deps.authState();
    const ready = !deps.lifecycle.draining && redisOk && auth !== 'unavailable';
    const body: Readiness = {
      status: deps.lifecycle.draining ? 'draining' : ready ? 'ready' : 'unavailable',
      upstream: deps.upstreamName,
      redis,
      auth,
    };
    res.status(ready ? 200 : 503).json(body);
  };
}
