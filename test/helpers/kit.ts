import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from '@jest/globals';
import type { Express } from 'express';
import type { Logger } from 'pino';
import request from 'supertest';
import type { Clock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logger.js';
import type { Redactor } from '../../src/redact.js';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { createService, type ServiceOptions, serviceRedactor } from '../../src/service.js';
import { FakeClock } from './fake-clock.js';

/** Audio fixtures (copied from ../shared/fixtures; see test/fixtures/README.md). */
export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
export const audio = (name: string) => path.join(FIXTURES, 'audio', name);
export const notAudio = (name: string) => path.join(FIXTURES, 'not-audio', name);

/** Where memoryLogger copies every line (created by the suite's global setup). */
const LOG_DIR = path.resolve(import.meta.dirname, '../../test-results/logs');

/** The built form (npm test builds before it runs the tests). */
export const WEB_DIR = path.resolve(import.meta.dirname, '../../dist/web');

export const TEST_KEY = 'tk_test_key_do_not_leak_0123456789';

/** A fresh, empty spool folder for one test. */
export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'bff-test-'));
}

/** Files left in a folder. */
export function filesIn(dir: string): string[] {
  return readdirSync(dir);
}

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

/** A running HTTP server on 127.0.0.1 and a port of its own. */
export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0. */
export async function listen(
  handler: Express | ((req: IncomingMessage, res: ServerResponse) => void),
): Promise<Running> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
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

/** One request a fake upstream received. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  sha256: string;
  /** When the request's head arrived (the send time, give or take transit). */
  startedAt: number;
  /** When its body had been read. */
  at: number;
  /** When its head arrived on the clock the fake was given (the service's, in clock tests); else `startedAt`. */
  clockAt: number;
}

/**
 * How a scripted fake answers one request. `until` holds the answer until the promise settles,
 * so a test keeps a request in flight for exactly as long as it needs (see `deferred`); alone, it
 * holds the answer the fake would give anyway (the 201 echoing the name).
 */
export type Reply =
  | { until: Promise<unknown> }
  | {
      status: number;
      headers?: Record<string, string>;
      body?: unknown;
      delayMs?: number;
      until?: Promise<unknown>;
    }
  | { hang: true }
  | { destroy: 'before-body' | 'after-body' };

const isHoldOnly = (r: Reply): r is { until: Promise<unknown> } =>
  !('status' in r || 'hang' in r || 'destroy' in r);

/** Options for a fake upstream. */
export interface FakeUpstreamOptions {
  /** Stamps each request's `clockAt`: give it the service's clock to see when, on that clock, a request came. */
  clock?: Clock;
}

/**
 * A scriptable fake Truedy over real HTTP: answers the queued replies in order, then `fallback`
 * (a 201 voice by default), and records every request it received.
 */
export async function startFakeUpstream(
  queue: Reply[] = [],
  fallback?: (r: Received) => Reply,
  options: FakeUpstreamOptions = {},
) {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const waiters = new Set<() => void>();
  const running = await listen((req: IncomingMessage, res: ServerResponse) => {
    if (queue[0] && 'destroy' in queue[0] && queue[0].destroy === 'before-body') {
      queue.shift();
      req.socket.destroy();
      return;
    }
    const startedAt = Date.now();
    const clockAt = options.clock?.now() ?? startedAt;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        sha256: createHash('sha256').update(body).digest('hex'),
        startedAt,
        at: Date.now(),
        clockAt,
      };
      received.push(r);
      for (const w of [...waiters]) w();
      const next = queue.shift();
      // A hold-only entry holds what the fake would answer anyway.
      const scripted = next && !isHoldOnly(next) ? next : undefined;
      const reply = scripted ?? fallback?.(r) ?? voiceReply(r);
      const held = next && 'until' in next ? next.until : undefined;
      if ('hang' in reply) {
        hanging.push(res);
        return;
      }
      if ('destroy' in reply) {
        req.socket.destroy();
        return;
      }
      if (isHoldOnly(reply)) throw new Error('fake upstream: a fallback must answer, not only hold');
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
      const answer = () => {
        if (res.destroyed) return; // the caller went away (or the fake closed) while the answer was held
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(text);
      };
      void (held ?? Promise.resolve()).then(() =>
        reply.delayMs ? setTimeout(answer, reply.delayMs) : answer(),
      );
    });
  });
  return {
    ...running,
    received,
    queue,
    /**
     * Resolves once `n` requests have come in (in all, since the fake started); rejects after
     * `timeoutMs` saying how many did: a test waits for the event, never for a time.
     */
    waitForRequests(n: number, { timeoutMs = 5000 } = {}): Promise<Received[]> {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const check = () => {
          if (received.length < n) return;
          done();
          resolve(received);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`fake upstream: ${received.length} of ${n} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: async () => {
      for (const h of hanging) h.destroy();
      await running.close();
    },
  };
}

/** A scripted fake upstream, as startFakeUpstream returns it. */
export type FakeUpstream = Awaited<ReturnType<typeof startFakeUpstream>>;

/**
 * One fake upstream for a describe block: started before its tests, closed after them. The
 * handle reads through to the running fake, so tests use `fake.url`, `fake.queue`, `fake.received`.
 */
export function suiteFakeUpstream(): Pick<FakeUpstream, 'url' | 'queue' | 'received' | 'waitForRequests'> {
  let current: FakeUpstream | undefined;
  beforeAll(async () => {
    current = await startFakeUpstream();
  });
  afterAll(() => current?.close());
  const running = () => {
    if (!current) throw new Error('suiteFakeUpstream: used outside a test');
    return current;
  };
  return {
    get url() {
      return running().url;
    },
    get queue() {
      return running().queue;
    },
    get received() {
      return running().received;
    },
    waitForRequests: (n, options) => running().waitForRequests(n, options),
  };
}

/** A 201 in the OpenAPI's first documented shape, echoing the name sent. */
export function voiceReply(r?: Received): Reply {
  const name = r?.body.length ? (JSON.parse(r.body.toString()) as { name?: string }).name : 'Voice';
  return {
    status: 201,
    body: {
      data: {
        id: 'voice_custom123',
        name,
        provider: 'elevenlabs',
        type: 'custom',
        language: 'en-US',
        status: 'training',
        created_at: '2026-03-03T20:30:21.310278Z',
        updated_at: '2026-03-03T20:30:21.310278Z',
      },
      meta: { request_id: 'req_up_1', ts: '2026-03-03T20:30:21.310278Z' },
    },
  };
}

/** Truedy's documented 429: no Retry-After, `reset_at` in the body against `meta.ts`. */
export function truedy429(resetInMs: number, serverNow = Date.now()): Reply {
  return {
    status: 429,
    body: {
      error: {
        code: 'rate_limit_exceeded',
        message: 'Rate limit exceeded',
        details: { limit: 100, reset_at: new Date(serverNow + resetInMs).toISOString() },
      },
      meta: { ts: new Date(serverNow).toISOString() },
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

/** True when a string holds a raw C0 control character, U+2028 or U+2029 (never valid unescaped in our JSON). */
export function hasRawControl(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x20 || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

/** A promise and the function that resolves it: hold a fake's answer (`until`) and let it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Starts a request now and keeps its outcome for later. A test that fails before it awaits the
 * outcome then fails cleanly, instead of ending the run on an unhandled rejection.
 */
export function inFlight<T>(request: PromiseLike<T>): Promise<T> {
  const outcome = Promise.resolve(request);
  outcome.catch(() => undefined);
  return outcome;
}

/**
 * Polls `check` every few ms until it holds; throws after `timeoutMs` naming `what`. For state with
 * no event to wait on (a folder emptying, a log line written when a response closes).
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, everyMs = 5 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits (within `timeoutMs`) for `dir` to be empty; returns what is left, so tests `expect(...).toEqual([])`. */
export async function waitForEmptyDir(dir: string, timeoutMs = 2000): Promise<string[]> {
  await waitUntil(`${dir} to empty`, () => filesIn(dir).length === 0, { timeoutMs }).catch(() => undefined);
  return filesIn(dir);
}

/** The route every clone goes to. */
export const CLONE_PATH = '/api/voices/clone';

/**
 * A file for a clone: an audio fixture's name (`'sample.mp3'`), an absolute path, or bytes with a
 * filename; `field` is the form field (`files` unless said), `contentType` what the browser claims.
 */
export type CloneFile =
  | string
  | { path: string; field?: string; contentType?: string }
  | { data: Buffer; filename: string; field?: string; contentType?: string };

/** What a test sends to POST /api/voices/clone; `name: null` leaves the field out. */
export interface CloneRequest {
  name?: string | null;
  files?: CloneFile[];
  headers?: Record<string, string>;
}

const filePath = (f: string) => (path.isAbsolute(f) ? f : audio(f));

/**
 * `POST /api/voices/clone` through supertest to an app or a URL: the name, then the files (one
 * sample.mp3 unless said). Returns the request, so tests can `.set(...)` more and await it.
 */
export function postClone(
  target: Parameters<typeof request>[0],
  { name = 'Voice', files = ['sample.mp3'], headers = {} }: CloneRequest = {},
): request.Test {
  let req = request(target).post(CLONE_PATH).set(headers);
  if (name !== null) req = req.field('name', name);
  for (const f of files) {
    if (typeof f === 'string') req = req.attach('files', filePath(f));
    else {
      const type = f.contentType ? { contentType: f.contentType } : {};
      if ('path' in f) req = req.attach(f.field ?? 'files', f.path, type);
      else req = req.attach(f.field ?? 'files', f.data, { filename: f.filename, ...type });
    }
  }
  return req;
}

/** The same clone as a FormData, for `fetch` (which can be aborted, and streams like a browser). */
export function cloneForm({ name = 'Voice', files = ['sample.mp3'] }: CloneRequest = {}): FormData {
  const form = new FormData();
  if (name !== null) form.append('name', name);
  for (const f of files) {
    if (typeof f === 'string') form.append('files', new Blob([readFileSync(filePath(f))]), path.basename(f));
    else if ('path' in f)
      form.append(f.field ?? 'files', new Blob([readFileSync(f.path)]), path.basename(f.path));
    else form.append(f.field ?? 'files', new Blob([new Uint8Array(f.data)]), f.filename);
  }
  return form;
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
