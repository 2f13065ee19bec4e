import { errors, jwtVerify } from 'jose';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { type Caller, isPersonId, personCaller } from './caller.js';
import { type JwksKeys, KeysUnavailable } from './jwks-keys.js';

/**
 * Asymmetric algorithms only (SPEC): `none` and the HMAC family are refused before any key is
 * looked up, so a token "signed" with the public key as an HS256 secret cannot pass.
 */
export const JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** SPEC: `exp` and `nbf` are checked with 30 s of leeway for clocks that differ. */
const CLOCK_TOLERANCE_S = 30;

/** How long a caller refused for want of keys should wait before trying again. */
const KEYS_RETRY_AFTER_MS = 5000;

/** What the organization's provider must have put in a token (AUTH_ISSUER, AUTH_AUDIENCE). */
export interface JwtExpectations {
  issuer: string;
  audience: string;
}

/** Why a token was refused, in words a caller can act on (never the token itself). */
function reason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'the bearer token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return `the bearer token has no "${e.claim}" claim`;
    if (e.claim === 'nbf') return 'the bearer token is not valid yet';
    if (e.claim === 'iss') return 'the bearer token is from another issuer';
    if (e.claim === 'aud') return 'the bearer token is not meant for this service';
    return `the bearer token's "${e.claim}" claim is not valid`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return "the bearer token's algorithm is not accepted";
  if (e instanceof errors.JWSSignatureVerificationFailed)
    return "the bearer token's signature does not verify";
  if (e instanceof errors.JWKSNoMatchingKey) return 'the bearer token is signed with an unknown key';
  return 'the bearer token is not a valid JWT';
}

/**
 * Verifies a JWT bearer token from the organization's OpenID Connect provider (SPEC "Identity,
 * consent and audit"): signature against the provider's keys, `iss`, `aud`, `exp` (required) and
 * `nbf`. The person is `email`, else `sub`. 401 unauthorized for any token that fails; 503
 * auth_unavailable when the keys to check it cannot be had.
 */
export function createJwtVerifier(
  expect: JwtExpectations,
  keys: JwksKeys,
  clock: Clock,
): (token: string) => Promise<Caller> {
  return async (token) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys.getKey, {
        issuer: expect.issuer,
        audience: expect.audience,
        algorithms: JWT_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        // A token without an expiry would be good forever.
        requiredClaims: ['exp'],
        currentDate: new Date(clock.now()),
      }));
    } catch (e) {
      if (e instanceof KeysUnavailable) {
        throw new ServiceError('auth_unavailable', undefined, undefined, {
          retryAfterMs: KEYS_RETRY_AFTER_MS,
        });
      }
      if (e instanceof errors.JOSEError) {
        throw new ServiceError('unauthorized', `A valid credential is required: ${reason(e)}.`);
      }
      throw e;
    }
    const person = isPersonId(payload.email) ? payload.email : payload.sub;
    if (!isPersonId(person)) {
      throw new ServiceError(
        'unauthorized',
        'A valid credential is required: the bearer token names no one.',
      );
    }
    return personCaller('jwt', person);
  };
}
