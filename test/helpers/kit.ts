import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from '@jest/globals';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { type Config, loadConfig } from '../../src/config/config.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import type { Redactor } from '../../src/redact.js';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { createService, type ServiceOptions, serviceRedactor } from '../../src/service.js';

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

/** Files left below a folder (the service spools into a private folder of its own inside UPLOAD_DIR). */
export function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
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

/** Listens on 127.0.0.1:0, with the server main.ts uses (the app answers `Expect: 100-continue`). */
export async function listen(
  handler: Express | ((req: IncomingMessage, res: ServerResponse) => void),
): Promise<Running> {
  const server = createHttpServer(handler);
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

/** The product sandbox on its own port. */
export function startSandbox(options: { activateAfterMs?: number; apiKey?: string } = {}) {
  return listen(createSandboxApp({ apiKey: options.apiKey ?? TEST_KEY, ...options }));
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
}

/** How a scripted fake answers one request. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number }
  | { hang: true }
  | { destroy: 'before-body' | 'after-body' };

/**
 * A scriptable fake Truedy over real HTTP: answers the queued replies in order, then `fallback`
 * (a 201 voice by default), and records every request it received.
 */
export async function startFakeUpstream(queue: Reply[] = [], fallback?: (r: Received) => Reply) {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const running = await listen((req: IncomingMessage, res: ServerResponse) => {
    if (queue[0] && 'destroy' in queue[0] && queue[0].destroy === 'before-body') {
      queue.shift();
      req.socket.destroy();
      return;
    }
    const startedAt = Date.now();
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
      };
      received.push(r);
      const reply = queue.shift() ?? fallback?.(r) ?? voiceReply(r);
      if ('hang' in reply) {
        hanging.push(res);
        return;
      }
      if ('destroy' in reply) {
        req.socket.destroy();
        return;
      }
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
      setTimeout(() => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(text);
      }, reply.delayMs ?? 0);
    });
  });
  return {
    ...running,
    received,
    queue,
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
export function suiteFakeUpstream(): Pick<FakeUpstream, 'url' | 'queue' | 'received'> {
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
