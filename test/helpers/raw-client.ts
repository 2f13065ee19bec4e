import { connect, type Socket } from 'node:net';

/** How a raw connection ended. */
export interface RawEnd {
  /** Everything the server sent. */
  text: string;
  /** The socket's error code when it ended in one (ECONNRESET, EPIPE…). */
  error?: string;
  /** Bytes written to the connection (counted once the socket took them). */
  bytesSent: number;
  /** Milliseconds from connect to close. */
  afterMs: number;
}

/**
 * A client on a raw TCP connection, for what an HTTP library will not do: send a head and part of
 * a body, trickle the rest, stop mid-upload, or keep writing after the server answered.
 */
export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far (latin1, so byte counts hold). */
  readonly text: string;
  /** Bytes the socket has taken so far. */
  readonly bytesSent: number;
  /** `bytesSent` when the first byte of an answer arrived; undefined until then. */
  readonly sentBeforeAnswer: number | undefined;
  /** Writes and resolves once the socket has taken the bytes. */
  write(data: string | Buffer): Promise<void>;
  /** Resolves with the text once what came back matches; rejects after `timeoutMs` or if the connection closes first. */
  waitFor(pattern: RegExp | string, options?: { timeoutMs?: number }): Promise<string>;
  /** Writes `piece` every `everyMs` until the connection closes, as a slow or endless client does. */
  trickle(piece: Buffer, everyMs: number): void;
  /** Resolves when the connection has closed, with what came back. */
  readonly closed: Promise<RawEnd>;
  end(): void;
  destroy(): void;
}

/** Opens a raw connection to a URL's port (or a port) on 127.0.0.1. */
export function rawConnect(target: string | number, { allowHalfOpen = false } = {}): Promise<RawClient> {
  const port = typeof target === 'number' ? target : Number(new URL(target).port);
  const started = Date.now();
  let text = '';
  let bytesSent = 0;
  let sentBeforeAnswer: number | undefined;
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const listeners = new Set<() => void>();
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
  socket.on('data', (c: Buffer) => {
    sentBeforeAnswer ??= bytesSent;
    text += c.toString('latin1');
    for (const l of [...listeners]) l();
  });
  socket.on('end', () => {
    for (const l of [...listeners]) l();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  const closed = new Promise<RawEnd>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      for (const l of [...listeners]) l();
      resolve({ text, error, bytesSent, afterMs: Date.now() - started });
    }),
  );
  const write = (data: string | Buffer) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
      socket.write(bytes, (e) => {
        if (!e) bytesSent += bytes.length;
        resolve();
      });
    });
  const client: RawClient = {
    socket,
    get text() {
      return text;
    },
    get bytesSent() {
      return bytesSent;
    },
    get sentBeforeAnswer() {
      return sentBeforeAnswer;
    },
    write,
    waitFor: (pattern, { timeoutMs = 5000 } = {}) =>
      new Promise<string>((resolve, reject) => {
        const matches = () => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
        const done = () => {
          clearTimeout(deadline);
          listeners.delete(check);
        };
        const check = () => {
          if (matches()) {
            done();
            resolve(text);
          } else if (socket.destroyed || socket.readableEnded) {
            done();
            reject(
              new Error(
                `raw client: closed (${error ?? 'no error'}) before ${pattern}; got ${JSON.stringify(text.slice(0, 300))}`,
              ),
            );
          }
        };
        const deadline = setTimeout(() => {
          done();
          reject(
            new Error(
              `raw client: no ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(text.slice(0, 300))}`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    trickle(piece, everyMs) {
      clearInterval(timer);
      timer = setInterval(() => void write(piece), everyMs);
    },
    closed,
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('error', reject);
  });
}
