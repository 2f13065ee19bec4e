import type { Request, Response } from 'express';
import type { Readiness } from '../schemas.js';

/** Process state the probes read. */
export interface Lifecycle {
  draining: boolean;
}

/** `GET /healthz`: the process runs. */
export function healthHandler(_req: Request, res: Response) {
  res.json({ status: 'ok' });
}

/** `GET /readyz`: ready unless draining or a configured Redis is unreachable (SPEC "Other routes"). */
export function readyHandler(deps: {
  lifecycle: Lifecycle;
  upstreamName: Readiness['upstream'];
  storeHealthy: () => Promise<boolean> | boolean;
  redisConfigured: boolean;
}) {
  return async (_req: Request, res: Response) => {
    const redisOk = deps.redisConfigured ? await deps.storeHealthy() : true;
    const redis = deps.redisConfigured ? (redisOk ? 'ok' : 'unavailable') : 'disabled';
    const ready = !deps.lifecycle.draining && redisOk;
    const body: Readiness = {
      status: deps.lifecycle.draining ? 'draining' : ready ? 'ready' : 'unavailable',
      upstream: deps.upstreamName,
      redis,
    };
    res.status(ready ? 200 : 503).json(body);
  };
}
