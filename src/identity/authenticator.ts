import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { type Caller, isPersonId, personCaller } from './caller.js';
import { createTokenMatcher } from './client-tokens.js';
import type { JwksKeys, JwksOptions } from './jwks-keys.js';

/** The identity settings of the configuration (CLIENT_TOKENS, AUTH_*). */
export interface AuthSettings {
  clientTokens: readonly string[];
  jwt?: { jwksUrl: string; issuer: string; audience: string };
  proxyUserHeader?: string;
}

/** The credentials a request offers, as the HTTP layer read them. */
export interface Credentials {
  /** The `Authorization` header, when there is one. */
  authorization?: string;
  /**
   * Each value of the proxy's user header, only when the request's peer is a trusted proxy
   * (from anyone else the header is not a credential and is left out).
   */
  proxyUser?: readonly string[];
}

/** Whether JWT keys can be had: readiness reports it. */
export type KeysState = 'ok' | 'unavailable' | 'disabled';

/** Tells who a request is, from the credentials it offers. */
export interface Authenticator {
  /** Does every `/api/*` call need a credential (any of CLIENT_TOKENS, AUTH_JWKS_URL…, AUTH_PROXY_USER_HEADER)? */
  readonly required: boolean;
  /** The caller; undefined when no credential is required; throws 401 (or 503 when the keys cannot be had). */
  authenticate(credentials: Credentials): Promise<Caller | undefined>;
  /** JWT keys: loaded (`ok`), never loaded yet (`unavailable`, and a load is tried), or no JWT configured. */
  keysState(): KeysState;
  /** Loads the provider's keys once now (start-up); true when loaded or when no JWT is configured. */
  loadKeys(): Promise<boolean>;
}

/** The JWT half of an authenticator: the provider's keys and the verifier built on them. */
interface JwtParts {
  keys: JwksKeys;
  verify: (token: string) => Promise<Caller>;
}

/**
 * Loads jose (through the two modules built on it) and builds the JWT parts. Only a service with
 * AUTH_JWKS_URL calls this, so one without JWTs never parses jose's 46 modules (about 120 KB).
 */
async function loadJwtParts(
  jwt: NonNullable<AuthSettings['jwt']>,
  options: { clock: Clock; log: Pick<Logger, 'warn' | 'info'>; jwks?: JwksOptions },
): Promise<JwtParts> {
  const [{ createJwksKeys }, { createJwtVerifier }] = await Promise.all([
    import('./jwks-keys.js'),
    import('./jwt.js'),
  ]);
  const keys = createJwksKeys(jwt.jwksUrl, { ...options.jwks, clock: options.clock, log: options.log });
  return { keys, verify: createJwtVerifier(jwt, keys, options.clock) };
}

const unauthorized = (why?: string) =>
  new ServiceError('unauthorized', why ? `A valid credential is required: ${why}.` : undefined);

/**
 * SPEC "Identity, consent and audit": static tokens, JWTs from the organization's provider, and the
 * person a trusted authenticating proxy names. With any configured every call needs one valid
 * credential, and a bad one is refused even when another would pass. A bearer that is one of
 * CLIENT_TOKENS is a token; any other bearer is a JWT when JWTs are configured.
 */
export function createAuthenticator(
  settings: AuthSettings,
  options: { clock: Clock; log: Pick<Logger, 'warn' | 'info'>; jwks?: JwksOptions },
): Authenticator {
  const matchToken = createTokenMatcher(settings.clientTokens);
  const loadingJwt = settings.jwt ? loadJwtParts(settings.jwt, options) : undefined;
  /** Set once loadingJwt has settled: keysState() answers synchronously. */
  let jwt: JwtParts | undefined;
  // A failed load (a broken install) surfaces where loadingJwt is awaited: start-up's loadKeys.
  loadingJwt?.then(
    (parts) => {
      jwt = parts;
    },
    () => undefined,
  );
  const required =
    settings.clientTokens.length > 0 || Boolean(settings.jwt) || Boolean(settings.proxyUserHeader);

  async function fromBearer(authorization: string): Promise<Caller> {
    const m = /^Bearer ([^\s]+)$/i.exec(authorization);
    if (!m?.[1]) throw unauthorized('the Authorization header is not a Bearer credential');
    const token = matchToken(m[1]);
    if (token) return token;
    if (loadingJwt) return (await loadingJwt).verify(m[1]);
    throw unauthorized();
  }

  function fromProxy(values: readonly string[]): Caller | undefined {
    const given = values.map((v) => v.trim()).filter(Boolean);
    if (given.length === 0) return undefined;
    // Two values mean something other than the proxy set the header too: trust neither.
    if (given.length > 1) throw unauthorized('the proxy named more than one user');
    const person = given[0];
    if (!isPersonId(person)) throw unauthorized("the proxy's user is not a valid name");
    return personCaller('proxy', person);
  }

  return {
    required,
    async authenticate({ authorization, proxyUser }) {
      if (!required) return undefined;
      const proxied = settings.proxyUserHeader && proxyUser ? fromProxy(proxyUser) : undefined;
      const bearer = authorization === undefined ? undefined : await fromBearer(authorization);
      // A person named twice must be the same person (e.g. a proxy passing the user's own JWT on).
      if (proxied && bearer?.person !== undefined && bearer.person !== proxied.person) {
        throw unauthorized('the proxy and the bearer token name different people');
      }
      const caller = proxied ?? bearer;
      if (!caller) throw unauthorized();
      return caller;
    },
    keysState() {
      if (!loadingJwt) return 'disabled';
      if (jwt?.keys.loaded()) return 'ok';
      jwt?.keys.loadInBackground();
      return 'unavailable';
    },
    loadKeys: async () => (loadingJwt ? (await loadingJwt).keys.load() : true),
  };
}
