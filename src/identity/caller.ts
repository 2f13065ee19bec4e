/** How a caller proved who it is (SPEC "Identity, consent and audit"). */
export type CallerKind = 'token' | 'jwt' | 'proxy' | 'ip';

/**
 * Who a request is: the key of the inbound rate limit and of the idempotency scope, and a field of
 * the request's log line and of the audit trail. Never sent to Truedy, never in an answer.
 */
export interface Caller {
  kind: CallerKind;
  /** The key: `token:<digest prefix>`, `person:<person>` or `ip:<address>`. */
  id: string;
  /** The person (JWT `email`, else `sub`; or the proxy's user), when a person is known. */
  person?: string;
}

/**
 * A person, however they came in (JWT or proxy): one id, so one person has one limit and one
 * idempotency scope whether they use the form or a script.
 */
export function personCaller(kind: 'jwt' | 'proxy', person: string): Caller {
  return { kind, id: `person:${person}`, person };
}

/** A caller known only by its address (no authentication configured, or refused before it). */
export function ipCaller(addressKey: string): Caller {
  return { kind: 'ip', id: `ip:${addressKey}` };
}

// A person id is written to logs and the audit trail: bounded, and no control characters.
const PERSON = /^[^\p{Cc}\p{Zl}\p{Zp}]{1,256}$/u;

/** Is `v` usable as a person id (1–256 characters, no control characters)? */
export function isPersonId(v: unknown): v is string {
  return typeof v === 'string' && PERSON.test(v);
}
