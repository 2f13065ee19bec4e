import { Worker } from 'node:worker_threads';
import type { BodyPart } from '../upload/clone-body.js';
import { type AttemptRequest, type AttemptResult, sendAttempt } from './send-attempt.js';

/** How attempts reach Truedy: sent from this thread, or by the upstream worker thread. */
export interface AttemptTransport {
  send(request: AttemptRequest, signal: AbortSignal): Promise<AttemptResult>;
  /** Attempts sent so far from the event loop's thread and by the worker. */
  readonly sent: { thread: number; worker: number };
  /** Stops the worker, if any; call once no request is in flight. */
  close(): Promise<void>;
}

/** Attempts sent from the calling thread (tests that build the client alone use it). */
export function createInThreadTransport(): AttemptTransport {
  const sent = { thread: 0, worker: 0 };
  return {
    sent,
    send: (request, signal) => {
      sent.thread++;
      return sendAttempt(request, signal);
    },
    close: async () => {},
  };
}

/**
 * A body part as it crosses to the worker. Framing goes as a latin1 string (byte for byte): a
 * pooled Buffer would carry its whole 8 KiB pool with it, since structured clone copies a view's
 * entire ArrayBuffer. A file held in memory goes as a copy of its own bytes; a spooled one as its path.
 */
type WirePart =
  | string
  | { filename: string; contentType: string; size: number; bytes?: Uint8Array; path?: string };

/** A request as it crosses to the worker. */
export type WireRequest = Omit<AttemptRequest, 'body'> & { body?: WirePart[] };

/** What the service posts to the worker. */
export type ToWorker = { type: 'send'; id: number; request: WireRequest } | { type: 'abort'; id: number };

/** What the worker posts back. */
export interface FromWorker {
  id: number;
  attempt: AttemptResult;
}

/** A request in the form that crosses to the worker. */
export function toWire(request: AttemptRequest): WireRequest {
  const body = request.body?.map((p): WirePart => {
    if (Buffer.isBuffer(p)) return p.toString('latin1');
    const { filename, contentType, size, source } = p;
    if ('path' in source) return { filename, contentType, size, path: source.path };
    const b = source.bytes;
    const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
    return { filename, contentType, size, bytes: own ? b : new Uint8Array(b) };
  });
  return { ...request, body };
}

/** The request again, on the worker's side. */
export function fromWire(wire: WireRequest): AttemptRequest {
  const body = wire.body?.map((p): BodyPart => {
    if (typeof p === 'string') return Buffer.from(p, 'latin1');
    const { filename, contentType, size } = p;
    const source = p.path !== undefined ? { path: p.path } : { bytes: asBuffer(p.bytes as Uint8Array) };
    return { filename, contentType, size, source };
  });
  return { ...wire, body };
}

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Young generation of the worker, in MiB: as small as `npm start` keeps the main thread's (8 MiB semi-spaces). */
const WORKER_YOUNG_MB = 24;

/** Where the worker is and when it is used. */
export interface WorkerTransportOptions {
  /** The built worker script (dist/upstream/attempt-worker.js). */
  script: URL;
  /**
   * Attempts in flight from which the next goes to the worker; below it, it is sent from this
   * thread. 1 (the default): a lone request skips the hop between threads (about half a
   * millisecond on an idle service), and the worker takes the sending whenever two or more
   * overlap. 0 sends every attempt through the worker.
   */
  offloadFrom?: number;
  onError(error: Error): void;
}

/**
 * Attempts sent by one worker thread. Sending is most of a clone's CPU beyond receiving it (got's
 * request, base64, socket writes, reading the answer): in its own thread it runs on a second core
 * while the event loop receives the next uploads (README "Performance"). The worker starts at its
 * first attempt and does not keep the process alive when idle. If it dies, the attempts it held
 * end as `network` (the request may have been sent: never retried blindly) and the next attempt
 * starts a new one.
 */
export function createWorkerTransport(options: WorkerTransportOptions): AttemptTransport {
  const { script, onError, offloadFrom = 1 } = options;
  let worker: Worker | undefined;
  let nextId = 1;
  let inThread = 0;
  const sent = { thread: 0, worker: 0 };
  const pending = new Map<number, (attempt: AttemptResult) => void>();

  function start(): Worker {
    const w = new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
    w.unref();
    w.on('message', (m: FromWorker) => {
      pending.get(m.id)?.(m.attempt);
    });
    w.on('error', onError);
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      for (const done of [...pending.values()])
        done({ result: { kind: 'network', message: 'the upstream worker stopped' }, bytesSent: 0 });
    });
    return w;
  }

  /** Sends one attempt from this thread, counted as in flight while it runs. */
  async function here(request: AttemptRequest, signal: AbortSignal): Promise<AttemptResult> {
    inThread++;
    sent.thread++;
    try {
      return await sendAttempt(request, signal);
    } finally {
      inThread--;
    }
  }

  return {
    sent,
    send(request, signal) {
      if (signal.aborted) return Promise.resolve({ result: { kind: 'aborted' }, bytesSent: 0 });
      if (inThread + pending.size < offloadFrom) return here(request, signal);
      sent.worker++;
      worker ??= start();
      const w = worker;
      const id = nextId++;
      return new Promise<AttemptResult>((resolve) => {
        const finish = (attempt: AttemptResult) => {
          pending.delete(id);
          signal.removeEventListener('abort', onAbort);
          if (pending.size === 0) w.unref();
          resolve(attempt);
        };
        // The caller went away: answer at once, and let the worker stop its exchange.
        const onAbort = () => {
          w.postMessage({ type: 'abort', id } satisfies ToWorker);
          finish({ result: { kind: 'aborted' }, bytesSent: 0 });
        };
        pending.set(id, finish);
        signal.addEventListener('abort', onAbort, { once: true });
        w.ref();
        w.postMessage({ type: 'send', id, request: toWire(request) } satisfies ToWorker);
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
  };
}
