// A scripted fake Truedy over real HTTP on 127.0.0.1 (no service code).
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from '@jest/globals';
import type { Express } from 'express';
import type { Clock } from '../../src/clock.js';
import { createHttpServer } from '../../src/http/server.js';

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
