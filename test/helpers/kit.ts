import { appendFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from '@jest/globals';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logger.js';
import type { Redactor } from '../../src/redact.js';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { createService, type ServiceOptions, serviceRedactor } from '../../src/service.js';
import { FakeClock } from './fake-clock.js';
import {
  type FakeUpstream,
  listen,
  type Received,
  type Reply,
  type Running,
  startFakeUpstream,
} from './fake-upstream.js';
import { TEST_KEY, tempDir } from './fixtures.js';

// The kit: the service under test, built on the lighter helpers it re-exports (unit and process
// tests import those directly, so they do not load the whole service).
export * from './clone-request.js';
export * from './fake-upstream.js';
export * from './fixtures.js';
export * from './wait.js';

/** The built form (npm test builds before it runs the tests). */
export const WEB_DIR = path.resolve(import.meta.dirname, '../../dist/web');

/** Where memoryLogger copies every line (created by the suite's global setup). */
const LOG_DIR = path.resolve(import.meta.dirname, '../../test-results/logs');

/** Config for tests: millisecond retry settings, no pacing, a private spool folder; overrides win. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    TRUEDY_API_KEY: TEST_KEY,
    UPLOAD_DIR: tempDir(),
    RETRY_BASE_DELAY_MS: '5',
    RETRY_MAX_DELAY_MS: '2000',
    RETRY_BUDGET_MS: '5000',
    UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_MAX: '1000',
    LOG_LEVEL: 'info',
    ...overrides,
  });
}

/** A logger whose lines are kept in memory, so tests can read (and scan) what was logged. */
export function memoryLogger(
  level = 'info',
  redactor?: Redactor,
): {
  logger: Logger;
  lines: Record<string, unknown>[];
  text: () => string;
} {
  const raw: string[] = [];
  // Every line also goes to test-results/logs, which the suite's teardown scans for secrets.
  const file = path.join(LOG_DIR, `${process.pid}.jsonl`);
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw.push(String(chunk));
      appendFileSync(file, String(chunk));
      done();
    },
  });
  const logger = createLogger({ level, destination: sink, redactor });
  return {
    logger,
    get lines() {
      return raw
        .flatMap((r) => r.split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => raw.join(''),
  };
}

/** The product sandbox on its own port (its clock decides when a clone turns active). */
export function startSandbox(options: { activateAfterMs?: number; apiKey?: string; clock?: Clock } = {}) {
  return listen(createSandboxApp({ apiKey: options.apiKey ?? TEST_KEY, ...options }));
}

/** The sandbox for a describe block: started before its tests, closed after them; `url` reads through. */
export function suiteSandbox(options: Parameters<typeof startSandbox>[0] = {}): { readonly url: string } {
  let current: Running | undefined;
  beforeAll(async () => {
    current = await startSandbox(options);
  });
  afterAll(() => current?.close());
  return {
    get url() {
      if (!current) throw new Error('suiteSandbox: used outside a test');
      return current.url;
    },
  };
}

/** Builds the service against `baseUrl` with a memory logger; returns the app and what it logged. */
export function buildService(
  config: Config,
  baseUrl: string,
  options: Partial<ServiceOptions> & { logLevel?: string } = {},
) {
  // The product's own redaction, as main.ts sets it up: tests scan the log for the secrets.
  const log = memoryLogger(options.logLevel ?? 'info', serviceRedactor(config, options.apiKey));
  const service = createService(config, { logger: log.logger, baseUrl, webDir: WEB_DIR, ...options });
  return { ...service, log, config };
}

/** A built service listening on its own port, in front of its own scripted fake Truedy. */
export type ServiceUnderTest = ReturnType<typeof buildService> & {
  url: string;
  port: number;
  fake: FakeUpstream;
  /** Every request the service's server received, as the server holds it (to look at its side of a connection). */
  inbound: { req: IncomingMessage; res: ServerResponse }[];
  /** Stops the listener, the fake and the service's stores. */
  close(): Promise<void>;
};

/** What startService builds: the env for testConfig, the fake's script, and service overrides. */
export interface StartServiceOptions {
  env?: Record<string, string>;
  queue?: Reply[];
  fallback?: (r: Received) => Reply;
  /** Also stamps the fake's `clockAt`, so tests see on the service's clock when each request came. */
  clock?: Clock;
  service?: Partial<ServiceOptions> & { logLevel?: string };
}

/** Starts a fake Truedy and the service in front of it, on 127.0.0.1 ports of their own. */
export async function startService(options: StartServiceOptions = {}): Promise<ServiceUnderTest> {
  const fake = await startFakeUpstream(options.queue, options.fallback, { clock: options.clock });
  const built = buildService(testConfig(options.env), fake.url, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.service,
  });
  const inbound: ServiceUnderTest['inbound'] = [];
  const server = await listen((req: IncomingMessage, res: ServerResponse) => {
    inbound.push({ req, res });
    built.app(req, res);
  });
  return {
    ...built,
    url: server.url,
    port: Number(new URL(server.url).port),
    fake,
    inbound,
    close: async () => {
      await server.close();
      await fake.close();
      await built.close();
    },
  };
}

/** Runs `run` against a fresh startService, and stops it afterwards whatever happened. */
export async function withService<T>(
  options: StartServiceOptions,
  run: (svc: ServiceUnderTest) => Promise<T>,
): Promise<T> {
  const svc = await startService(options);
  try {
    return await run(svc);
  } finally {
    await svc.close();
  }
}

/**
 * withService on a FakeClock that moves on its own: every wait the service plans is recorded on
 * the clock and none is waited for. `random` is 0 unless said, so named waits carry no spread.
 */
export function withServiceOnClock<T>(
  options: Omit<StartServiceOptions, 'clock'>,
  run: (svc: ServiceUnderTest, clock: FakeClock) => Promise<T>,
): Promise<T> {
  const clock = new FakeClock({ autoAdvance: true });
  const service = { random: () => 0, ...options.service };
  return withService({ ...options, service, clock }, (svc) => run(svc, clock));
}
