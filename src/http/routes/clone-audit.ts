import type { NextFunction, Request, Response } from 'express';
import type { AuditTrail } from '../../audit/audit-trail.js';
import { type CloneOutcome, cloneEntry } from '../../audit/clone-entry.js';
import { isDomainError, ServiceError } from '../../errors.js';
import { SPAN, withSpan } from '../../tracing/spans.js';
import { isRecord } from '../../values.js';
import { toHttpError } from '../error-table.js';
import { callerOf } from '../middleware/authenticate.js';
import type { Answer } from './respond.js';

/** Logs why the trail could not be written: the errno and message, never the entry. */
function logFailure(res: Response, e: unknown, which: string) {
  const cause = (e as { cause?: NodeJS.ErrnoException }).cause ?? (e as NodeJS.ErrnoException);
  res.locals.log.error(
    { err: { code: cause?.code, message: cause?.message } },
    `the audit trail could not be written (${which})`,
  );
}

/**
 * Pipeline step "audit" (SPEC "Identity, consent and audit"): the entry saying this clone is about
 * to be sent upstream, durable before Truedy is called. When it cannot be written: 503
 * audit_unavailable, and nothing goes upstream.
 */
export async function auditRequested(audit: AuditTrail, req: Request, res: Response): Promise<void> {
  try {
    const entry = cloneEntry(res.locals.requestId, callerOf(req, res), res.locals.cloneFacts ?? {});
    await withSpan(SPAN.audit, { 'bff.audit.line': 'requested' }, () => audit.write(entry));
  } catch (e) {
    logFailure(res, e, 'before the upstream call');
    throw e instanceof ServiceError ? e : new ServiceError('audit_unavailable');
  }
}

/** Writes the outcome entry once; a failure is logged and the answer still goes out (the voice may exist). */
async function auditOutcome(audit: AuditTrail, req: Request, res: Response, outcome: CloneOutcome) {
  if (res.locals.audited) return;
  res.locals.audited = true;
  try {
    const entry = cloneEntry(res.locals.requestId, callerOf(req, res), res.locals.cloneFacts ?? {}, outcome);
    await withSpan(SPAN.audit, { 'bff.audit.line': 'outcome' }, () => audit.write(entry));
  } catch (e) {
    logFailure(res, e, 'the outcome');
  }
}

/** The outcome of an answer the route sends itself: a new voice, or an idempotent replay of any answer. */
export function auditAnswer(
  audit: AuditTrail,
  req: Request,
  res: Response,
  answer: Answer,
  replayed: boolean,
): Promise<void> {
  const body = isRecord(answer.body) ? answer.body : {};
  const data = isRecord(body.data) ? body.data : {};
  const meta = isRecord(body.meta) ? body.meta : {};
  const error = isRecord(body.error) ? body.error : {};
  return auditOutcome(audit, req, res, {
    status: answer.status,
    code: typeof error.code === 'string' ? error.code : null,
    voiceId: typeof data.id === 'string' ? data.id : null,
    upstreamRequestId:
      !replayed && typeof meta.upstream_request_id === 'string' ? meta.upstream_request_id : null,
    attempts: replayed ? 0 : (res.locals.upstreamAttempts ?? 0),
    replayed,
  });
}

/**
 * Every clone refused, wherever it was refused (draining, origin, auth, rate limit, the upload,
 * its audio, consent, idempotency, Truedy), gets its outcome entry before the error answer goes
 * out, so refusals are visible per caller. Mounted on `/api/voices/clone`, ahead of the error handler.
 */
export function auditRefusals(audit: AuditTrail) {
  return async (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'POST' && req.path === '/' && !res.headersSent)
      await auditFailure(audit, req, res, err);
    next(err);
  };
}

/** The outcome of a clone that failed (once: a failure the route audited itself is not audited again). */
export function auditFailure(audit: AuditTrail, req: Request, res: Response, err: unknown): Promise<void> {
  const domain = isDomainError(err) ? err : undefined;
  // A client gone before its answer is recorded as nginx logs it, 499, unless Truedy was called:
  // an attempt Truedy had whole runs on after its client left, and its outcome is what happened.
  const gone = res.destroyed && !res.writableFinished && !domain?.facts.attempts;
  return auditOutcome(audit, req, res, {
    status: gone ? 499 : domain ? toHttpError(domain).status : 500,
    code: gone ? 'client_closed' : (domain?.code ?? 'internal_error'),
    voiceId: null,
    upstreamRequestId: domain?.facts.upstreamRequestId ?? null,
    // The attempts begun, kept on the request as each began (also when the client left mid-call).
    attempts: res.locals.upstreamAttempts ?? 0,
  });
}
