import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { ErrorEnvelope } from '../api/schemas.js';
import { type DomainError, isCallerGone, isDomainError, ServiceError } from '../errors.js';
import { recordErrorCode } from '../tracing/spans.js';
import { type HttpError, toHttpError } from './error-table.js';
import { answerRefusedBody, type LingerLimits } from './linger.js';

/** Errors Express and its parsers raise with a 4xx `status` (a path that does not decode…). */
function clientError(err: unknown): ServiceError | undefined {
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e?.status === 'number' ? e.status : e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (status === 413) return new ServiceError('payload_too_large');
  if (status === 415) return new ServiceError('unsupported_media_type');
  return new ServiceError('invalid_request');
}

/** SPEC's error envelope for a mapped error. */
export function errorEnvelope(e: HttpError, requestId: string, now: Date): ErrorEnvelope {
  return { error: e.error, meta: { request_id: requestId, ts: now.toISOString() } };
}

/** Writes a domain error as SPEC's JSON envelope with its status and headers. */
export function sendError(res: Response, err: DomainError, now: Date): void {
  const e = toHttpError(err);
  res
    .set(e.headers)
    .status(e.status)
    .type('application/json')
    .json(errorEnvelope(e, res.locals.requestId, now));
}

/** The one error handler: every failure becomes SPEC's JSON envelope; bugs are logged, never shown. */
export function errorHandler(logger: Logger, now: () => Date, linger: LingerLimits) {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const log = res.locals.log ?? logger;
    // Nobody is left to answer; the request's log line and the audit trail say 499.
    if (isCallerGone(err)) {
      log.info('the client went away before its answer: the steps still to come were cancelled');
      return;
    }
    let domain = isDomainError(err) ? err : clientError(err);
    if (!domain) {
      log.error({ err }, 'unhandled error');
      domain = new ServiceError('internal_error');
    } else if (domain.code === 'upstream_auth_failed') {
      log.error('Truedy refused our API key (401/403): check TRUEDY_API_KEY');
    } else if (domain.code === 'insufficient_storage') {
      const cause = domain.cause as NodeJS.ErrnoException | undefined;
      log.error({ err: { code: cause?.code, message: cause?.message } }, 'the spool could not be written');
    }
    // The request's span carries SPEC's code, so a trace says why as well as that it failed.
    recordErrorCode(domain.code);
    const answer = domain;
    const send = () => {
      if (!res.headersSent && !res.destroyed) sendError(res, answer, now());
    };
    if (req.complete) send();
    else answerRefusedBody(req, res, linger, send);
  };
}
