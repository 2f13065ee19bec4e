import type { Request, Response } from 'express';
import { cutBodyPast } from '../upload/read-upload.js';
import { awaitsContinue } from './server.js';

/** How much of a refused body the server still reads, and for how long. */
export interface LingerLimits {
  /** Bytes still to come beyond which the connection is cut instead of read. */
  maxBytes: number;
  /** How long the rest may take to arrive. */
  maxMs: number;
}

/** Does the client want the connection kept after this exchange (RFC 9112 §9.3)? */
function clientKeepsAlive(req: Request): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  if (req.httpVersion === '1.0') return /\bkeep-alive\b/.test(connection);
  return !/\bclose\b/.test(connection);
}

/**
 * Answers a request whose body was not read to its end (a refused origin or token, a rate limit)
 * without resetting the client, the "lingering close" of RFC 9112 §9.6.
 *
 * A socket closed while the client is still writing its body makes the kernel answer with a
 * reset, and the client (a browser, a form-data stream still reading its file) sees EPIPE or
 * ECONNRESET instead of our JSON. So the rest of the body is read and dropped: after the answer
 * when the connection stays open (the answer arrives at once), before it when the client asked
 * for `Connection: close` (Node closes the socket as soon as that answer is written). Only a body
 * too large to be worth reading, or one that does not arrive in time, gets the connection cut.
 * A client still waiting for `100 Continue` has sent nothing: it is answered and the connection closed.
 */
export function answerRefusedBody(
  req: Request,
  res: Response,
  limits: LingerLimits,
  answer: () => void,
): void {
  req.unpipe();
  if (awaitsContinue(req)) {
    // The client waits for 100 Continue and has sent no body: nothing to linger for. The answer
    // goes at once and the connection closes after it, so a body sent anyway is never read.
    res.setHeader('Connection', 'close');
    answer();
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (res.getHeader('Connection') === 'close' || (Number.isFinite(declared) && declared > limits.maxBytes)) {
    // Not worth reading (or the process is draining): answer, and Node closes after it.
    res.setHeader('Connection', 'close');
    req.resume();
    answer();
    return;
  }
  const answerFirst = clientKeepsAlive(req);
  const timer = setTimeout(() => req.socket.destroy(), limits.maxMs);
  timer.unref();
  cutBodyPast(req, limits.maxBytes);
  req.once('end', () => {
    clearTimeout(timer);
    if (!answerFirst) answer();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
  if (answerFirst) answer();
}
