import { createHash, timingSafeEqual } from 'node:crypto';
import type { Caller } from './caller.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Matches a bearer against CLIENT_TOKENS. Every configured token is compared, in constant time over
 * fixed-length digests, so timing tells nothing about which or how much matched. The caller is then
 * known by a digest prefix, never by the token itself.
 */
export function createTokenMatcher(tokens: readonly string[]): (bearer: string) => Caller | undefined {
  const known = tokens.map((t) => {
    const d = digest(t);
    return { digest: d, caller: { kind: 'token', id: `token:${d.toString('hex').slice(0, 12)}` } as Caller };
  });
  return (bearer) => {
    const given = digest(bearer);
    let match: Caller | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, given)) match = k.caller;
    return match;
  };
}
