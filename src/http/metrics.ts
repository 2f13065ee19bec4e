import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { AttemptOutcome } from '../upstream/retry-policy.js';
import type { UpstreamObserver } from '../upstream/truedy-client.js';

type Operation = Parameters<UpstreamObserver['attempt']>[0];

/**
 * Outcomes of an attempt that are not an HTTP status, all of them (a new kind of AttemptOutcome
 * fails the typecheck here until it is listed).
 */
const TRANSPORT_OUTCOMES = Object.keys({
  connect_failed: true,
  unsent: true,
  timeout: true,
  network: true,
  too_large: true,
} satisfies Record<Exclude<AttemptOutcome['kind'], 'response'>, true>);

/**
 * Truedy statuses an alert watches, for every operation: 401/403 (our key is wrong), 429 (Truedy
 * limits us) and its 5xx. Per operation come its success and what only it meets (402: credits are
 * spent). Other statuses (400, 404, 422) are the caller's doing and appear when they happen.
 */
const UPSTREAM_STATUSES = ['401', '403', '429', '500', '502', '503', '504'];

/** Each known operation: the route of ours that makes it, its success status, and Truedy statuses only it meets. */
const KNOWN: Record<Operation, { method: string; route: string; success: string; upstreamOnly: string[] }> = {
  clone: { method: 'POST', route: '/api/voices/clone', success: '201', upstreamOnly: ['402'] },
  get: { method: 'GET', route: '/api/voices/:id', success: '200', upstreamOnly: [] },
};

/** This service's own answers an availability alert divides: success, 429 and the 5xx of SPEC's table. */
const SERVICE_STATUSES = ['429', '500', '502', '503', '504'];

/** The series SPEC names for `GET /metrics`, on a registry of their own (one per app, so tests can build many). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  uploadBytes: Counter;
  /** Log lines dropped because stdout was not being read and LOG_BUFFER_BYTES were already held. */
  logLinesDropped: Counter;
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
  const logLinesDropped = new Counter({
    name: 'log_lines_dropped_total',
    help: 'Log lines dropped because stdout was not read while LOG_BUFFER_BYTES of lines were held.',
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
  // Prometheus' "avoid missing metrics": a series that appears only with its first sample hides that
  // first error from rate()/increase(), and an absent series makes an alert's ratio empty, not 0.
  // So every family shows from the first scrape (SPEC "Operations"), its known series at zero.
  for (const [operation, known] of Object.entries(KNOWN) as [Operation, (typeof KNOWN)[Operation]][]) {
    for (const outcome of [known.success, ...known.upstreamOnly, ...UPSTREAM_STATUSES, ...TRANSPORT_OUTCOMES])
      attempts.inc({ operation, outcome }, 0);
    latency.zero({ operation });
    waits.zero({ operation });
    for (const status of [known.success, ...SERVICE_STATUSES])
      httpRequests.inc({ method: known.method, route: known.route, status }, 0);
  }
  return {
    registry,
    httpRequests,
    uploadBytes,
    logLinesDropped,
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
