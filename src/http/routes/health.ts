import type { Request, Response } from 'express';

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
  upstreamName: 'truedy' | 'sandbox';
  storeHealthy: () => Promise<boolean> | boolean;
  redisConfigured: boolean;
}) {
  return async (_req: Request, res: Response) => {
    const redisOk = deps.redisConfigured ? await deps.storeHealthy() : true;
    const redis = deps.redisConfigured ? (redisOk ? 'ok' : 'unavailable') : 'disabled';
    const ready = !deps.lifecycle.draining && redisOk;
    res.status(ready ? 200 : 503).json({
      status: deps.lifecycle.draining ? 'draining' : ready ? 'ready' : 'unavailable',
      upstream: deps.upstreamName,
      redis,
    });
  };
}
