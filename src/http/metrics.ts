import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { UpstreamObserver } from '../upstream/truedy-client.js';

/** The series SPEC names for `GET /metrics`, on a registry of their own (one per app, so tests can build many). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  uploadBytes: Counter;
  observer: UpstreamObserver;
}

/** Creates the registry with Node's default process metrics and the service's own series. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const uploadBytes = new Counter({
    name: 'upload_bytes_total',
    help: 'Audio bytes received in clone uploads.',
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'upstream_attempts_total',
    help: 'Calls sent to Truedy, by operation and outcome (HTTP status, timeout, connect_failed, network).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Duration of single Truedy attempts.',
    labelNames: ['operation'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const waits = new Histogram({
    name: 'upstream_retry_wait_seconds',
    help: 'Waits before Truedy calls: retry backoff, cooldown and pacing.',
    labelNames: ['operation'] as const,
    buckets: [0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 60],
    registers: [registry],
  });
  return {
    registry,
    httpRequests,
    uploadBytes,
    observer: {
      attempt(operation, outcome, seconds) {
        attempts.inc({ operation, outcome });
        latency.observe({ operation }, seconds);
      },
      wait(operation, seconds) {
        waits.observe({ operation }, seconds);
      },
    },
  };
}
