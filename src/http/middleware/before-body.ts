import type { NextFunction, Request, Response } from 'express';
import { refuseBeforeBody, type UploadLimits } from '../../upload/read-upload.js';
import { idempotencyKey } from '../idempotency-key.js';
import { sendContinue } from '../server.js';

/**
 * The last step before an upload's body is read. It runs after every guard that can refuse a
 * request from its head alone (draining, origin, credentials, the inbound rate limit), applies
 * the upload's own pre-body rules (not multipart, a declared size over the limits), and only then,
 * when the client waits with `Expect: 100-continue`, asks for the body. One decision both ways:
 * what is refused here is answered at once and the client never sends its body.
 */
export function beforeBody(limits: UploadLimits) {
  return (req: Request, res: Response, next: NextFunction) => {
    const length = req.headers['content-length'];
    const refusal = refuseBeforeBody(
      {
        multipart: Boolean(req.is('multipart/form-data')),
        contentLength: length === undefined ? undefined : Number(length),
      },
      limits,
    );
    if (refusal) return next(refusal);
    // A malformed Idempotency-Key is known from the head too: refused before the body is asked for.
    idempotencyKey(req);
    sendContinue(req, res);
    next();
  };
}
