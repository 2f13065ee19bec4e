import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { ServiceError } from '../errors.js';
import { AppError, ERROR_TABLE, type ErrorCode, tooLarge } from './errors.js';
import { answerRefusedBody, type LingerLimits } from './linger.js';
import { locals } from './middleware/request-context.js';

/** multer's error codes and what SPEC calls them (fastify-multipart style: one table). */
const MULTER_ERRORS: Record<string, (config: Config, err: multer.MulterError) => AppError> = {
  LIMIT_FILE_SIZE: (c, e) => tooLarge('MAX_FILE_BYTES', c.limits.maxFileBytes, e.field),
  LIMIT_FILE_COUNT: (c) => tooLarge('MAX_FILES', c.limits.maxFiles),
  LIMIT_UNEXPECTED_FILE: (_c, e) =>
    AppError.of('invalid_request', `Unexpected file field "${e.field}"; send files as "files".`, {
      field: e.field,
    }),
  LIMIT_PART_COUNT: () => AppError.of('invalid_request', 'Too many parts in the form.'),
  LIMIT_FIELD_COUNT: () => AppError.of('invalid_request', 'Too many fields in the form.'),
  LIMIT_FIELD_KEY: () => AppError.of('invalid_request', 'A field name is too long.'),
  LIMIT_FIELD_VALUE: (_c, e) =>
    AppError.of('invalid_request', `The field "${e.field}" is too long.`, { field: e.field }),
  MISSING_FIELD_NAME: () => AppError.of('invalid_request', 'A form part has no field name.'),
};

/** Maps an error thrown while reading a multipart body: our own, multer's, or busboy's parse errors. */
export function uploadError(err: unknown, config: Config): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof multer.MulterError) {
    return MULTER_ERRORS[err.code]?.(config, err) ?? AppError.of('invalid_request', err.message);
  }
  // Node system errors (ENOSPC, EACCES…) are ours, not the client's.
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') return err;
  // busboy: "Unexpected end of form", "Malformed part header", "Multipart: Boundary not found"…
  const message = err instanceof Error ? err.message : 'unreadable body';
  return AppError.of('invalid_request', `Malformed multipart body: ${message}.`);
}

/** Errors Express and body parsers raise with a 4xx `status` (bad JSON, bad URL encoding…). */
function clientError(err: unknown): AppError | undefined {
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown };
  const status = typeof e?.status === 'number' ? e.status : e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (status === 413) return AppError.of('payload_too_large');
  if (status === 415) return AppError.of('unsupported_media_type');
  return AppError.of('invalid_request');
}

/**
 * Bridge until the http refactor (main) maps every domain error itself: a ServiceError from the
 * stores answers as the AppError of the same code, its retryAfterMs as Retry-After.
 */
function fromServiceError(err: unknown): unknown {
  if (!(err instanceof ServiceError) || !(err.code in ERROR_TABLE)) return err;
  const ms = err.facts.retryAfterMs;
  const headers = ms === undefined ? undefined : { 'Retry-After': String(Math.ceil(ms / 1000)) };
  return AppError.of(err.code as ErrorCode, err.message, err.details, headers);
}

/** SPEC's error envelope for `err`. */
export function errorEnvelope(err: AppError, requestId: string, now: Date) {
  return {
    error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
    meta: { request_id: requestId, ts: now.toISOString() },
  };
}

/** Writes SPEC's error envelope. */
export function sendError(res: Response, err: AppError, now: Date): void {
  for (const [k, v] of Object.entries(err.headers ?? {})) res.setHeader(k, v);
  res
    .status(err.status)
    .type('application/json')
    .json(errorEnvelope(err, locals(res).requestId, now));
}

/** The one error handler: every failure becomes SPEC's JSON envelope; bugs are logged, never shown. */
export function errorHandler(logger: Logger, now: () => Date, linger: LingerLimits) {
  return (thrown: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(thrown);
    const err = fromServiceError(thrown);
    const log = locals(res).log ?? logger;
    let appError = err instanceof AppError ? err : clientError(err);
    if (!appError) {
      log.error({ err }, 'unhandled error');
      appError = AppError.of('internal_error');
    } else if (appError.code === 'upstream_auth_failed') {
      log.error('Truedy refused our API key (401/403): check TRUEDY_API_KEY');
    }
    const send = () => {
      if (!res.headersSent && !res.destroyed) sendError(res, appError, now());
    };
    if (req.complete) send();
    else answerRefusedBody(req, res, linger, send);
  };
}
