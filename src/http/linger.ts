import type { Request, Response } from 'express';

/** How much of a refused body the server still reads, and for how long. */
export interface LingerLimits {
  /** Bytes still to come beyond which the connection is cut instead of read. */
  maxBytes: number;
  /** How long the rest may take to arrive. */
  maxMs: number;
}

/**
 * Answers a request whose body was not read to its end (a refused origin, a limit hit
 * mid-upload) without resetting the client: the "lingering close" of RFC 9112 §9.6.
 *
 * Closing at once would make the kernel answer the bytes still in flight with a reset, and a
 * client still writing its body (a browser, a form-data stream reading its file) then sees
 * EPIPE or ECONNRESET instead of our JSON answer. So the rest is read and dropped after the
 * answer, and the connection stays usable; only a body too large to be worth reading, or one
 * that does not arrive in time, gets the connection cut.
 */
export function lingerOnRefusedBody(req: Request, res: Response, limits: LingerLimits): void {
  req.unpipe();
  const declared = Number(req.headers['content-length']);
  if (res.getHeader('Connection') === 'close' || (Number.isFinite(declared) && declared > limits.maxBytes)) {
    // Not worth reading (or the process is draining): say so, and Node closes after the answer.
    res.setHeader('Connection', 'close');
    req.resume();
    return;
  }
  let seen = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, limits.maxMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limits.maxBytes) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
