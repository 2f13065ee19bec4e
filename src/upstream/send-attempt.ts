import got, { RequestError, TimeoutError, UploadError } from 'got';
import { type BodyPart, openBody } from '../upload/clone-body.js';
import type { Headers } from './retry-policy.js';

/**
 * One HTTP exchange with Truedy, as plain data: it can be sent from this thread or handed to the
 * upstream worker (`attempt-worker.ts`), which runs this same function.
 */
export interface AttemptRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** The largest answer read, counted after decompression (UPSTREAM_MAX_RESPONSE_BYTES). */
  maxResponseBytes: number;
  /** The clone body's parts; `headers` carries its Content-Length. */
  body?: readonly BodyPart[];
}

/** What the exchange came to, as plain data (it may cross a thread boundary). */
export type ExchangeResult =
  /** Truedy answered; `body` is its parsed JSON, or undefined when it was not JSON. */
  | { kind: 'response'; status: number; headers: Headers; body: unknown }
  | { kind: 'too_large'; status: number }
  | { kind: 'timeout' }
  | { kind: 'connect_failed' }
  /** The connection broke before the whole body was written to it. */
  | { kind: 'unsent'; code?: string }
  /** The connection broke after the request may have been sent. */
  | { kind: 'network'; code?: string; message: string }
  /** The body could not be produced (a spooled file removed or cut short): our failure, not Truedy's. */
  | { kind: 'body_failed'; message: string }
  /** The caller went away and the exchange was stopped. */
  | { kind: 'aborted' };

/** An exchange's result and how many body bytes the socket took (got's upload progress). */
export interface AttemptResult {
  result: ExchangeResult;
  bytesSent: number;
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Sends one attempt with got (its own retry off: the client's loop owns retries). The answer is
 * read as a stream and counted after decompression: past `maxResponseBytes` reading stops and the
 * connection is destroyed, so no answer, however large or however well it compresses, can take
 * the process's memory (SPEC "Errors").
 */
export async function sendAttempt(request: AttemptRequest, signal: AbortSignal): Promise<AttemptResult> {
  const body = request.body ? openBody(request.body) : undefined;
  const stream = got.stream(request.url, {
    method: request.method,
    body,
    headers: request.headers,
    timeout: { request: request.timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    signal,
  });
  const sent = () => stream.uploadProgress.transferred;
  try {
    const { statusCode, headers } = await new Promise<{ statusCode: number; headers: Headers }>(
      (resolve, reject) => {
        stream.once('response', resolve);
        stream.once('error', reject);
      },
    );
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > request.maxResponseBytes) {
        stream.destroy();
        return { result: { kind: 'too_large', status: statusCode }, bytesSent: sent() };
      }
      chunks.push(chunk);
    }
    const parsed = parseJson(Buffer.concat(chunks, size).toString('utf8'));
    return { result: { kind: 'response', status: statusCode, headers, body: parsed }, bytesSent: sent() };
  } catch (error) {
    if (signal.aborted) return { result: { kind: 'aborted' }, bytesSent: sent() };
    if (error instanceof UploadError) {
      return { result: { kind: 'body_failed', message: error.message }, bytesSent: sent() };
    }
    if (error instanceof TimeoutError) return { result: { kind: 'timeout' }, bytesSent: sent() };
    const code = error instanceof RequestError ? error.code : undefined;
    if (code && CONNECT_FAILURES.has(code)) return { result: { kind: 'connect_failed' }, bytesSent: 0 };
    // got counts a body byte as uploaded only once the socket has taken it: fewer than the whole
    // body means the connection broke before Truedy could have had a complete request.
    const length = Number(request.headers['content-length'] ?? 0);
    if (request.body && sent() < length) return { result: { kind: 'unsent', code }, bytesSent: sent() };
    return { result: { kind: 'network', code, message: (error as Error).message }, bytesSent: sent() };
  } finally {
    stream.destroy();
    body?.destroy();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
