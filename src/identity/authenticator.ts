import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { type Caller, isPersonId, personCaller } from './caller.js';
import { createTokenMatcher } from './client-tokens.js';
import { createJwksKeys, type JwksOptions } from './jwks-keys.js';
import { createJwtVerifier } from './jwt.js';

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
  const keys = settings.jwt
    ? createJwksKeys(settings.jwt.jwksUrl, { ...options.jwks, clock: options.clock, log: options.log })
    : undefined;
  const verifyJwt = settings.jwt && keys ? createJwtVerifier(settings.jwt, keys, options.clock) : undefined;
  const required =
    settings.clientTokens.length > 0 || Boolean(settings.jwt) || Boolean(settings.proxyUserHeader);

  async function fromBearer(authorization: string): Promise<Caller> {
    const m = /^Bearer ([^\s]+)$/i.exec(authorization);
    if (!m?.[1]) throw unauthorized('the Authorization header is not a Bearer credential');
    const token = matchToken(m[1]);
    if (token) return token;
    if (verifyJwt) return verifyJwt(m[1]);
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
      if (!keys) return 'disabled';
      if (keys.loaded()) return 'ok';
      keys.loadInBackground();
      return 'unavailable';
    },
    loadKeys: () => keys?.load() ?? Promise.resolve(true),
  };
}
