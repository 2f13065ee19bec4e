import { type ErrorFacts, ServiceError, UpstreamRefusal } from '../errors.js';
import { isRecord } from '../values.js';

/** Which Truedy call failed; a 404 means "no such voice" only for a read. */
export type UpstreamOperation = 'clone' | 'get';

/**
 * Maps a non-2xx Truedy answer that will not be retried to the domain's errors: 400/402/422 are
 * Truedy's own refusals, relayed with its code, message and details; 401/403 mean our key is
 * wrong; the rest is upstream_error. `body` has already been redacted (SPEC "Errors").
 */
export function upstreamError(
  status: number,
  body: unknown,
  op: UpstreamOperation,
  facts: ErrorFacts = {},
): ServiceError | UpstreamRefusal {
  const envelope = isRecord(body) && isRecord(body.error) ? body.error : {};
  const code = typeof envelope.code === 'string' && envelope.code ? envelope.code : undefined;
  const message = typeof envelope.message === 'string' && envelope.message ? envelope.message : undefined;
  const details = isRecord(envelope.details) ? envelope.details : undefined;

  switch (status) {
    case 400:
      return new UpstreamRefusal('payload', code, message, details, facts);
    case 402:
      return new UpstreamRefusal('credits', code, message, details, facts);
    case 422: {
      // FastAPI-style validation answers carry `detail[]`; SPEC relays it as details.errors.
      const errors = isRecord(body) && Array.isArray(body.detail) ? body.detail : undefined;
      return new UpstreamRefusal(
        'validation',
        code,
        message,
        errors ? { ...details, errors } : details,
        facts,
      );
    }
    case 401:
    case 403:
      return new ServiceError('upstream_auth_failed', undefined, { upstream_status: status }, facts);
    case 404:
      if (op === 'get') return new ServiceError('not_found', 'No voice with this id.', undefined, facts);
      break;
  }
  return new ServiceError('upstream_error', undefined, { upstream_status: status }, facts);
}
