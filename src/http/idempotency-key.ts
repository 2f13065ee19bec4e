import type { Request } from 'express';
import { ServiceError } from '../errors.js';

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/** The request's optional `Idempotency-Key` (SPEC: 1–255 printable ASCII), or 400 invalid_request. */
export function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ServiceError('invalid_request', 'Idempotency-Key must be 1 to 255 printable ASCII characters.');
  }
  return key;
}
