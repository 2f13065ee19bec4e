import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';

/** The identity provider's keys could not be fetched, and none that would do are cached. */
export class KeysUnavailable extends Error {
  constructor(options?: ErrorOptions) {
    super('the JWKS endpoint could not be reached', options);
    this.name = 'KeysUnavailable';
  }
}

/** How the provider's key set is fetched and kept. */
export interface JwksOptions {
  /** No refetch for an unknown `kid` sooner than this after the last fetch (jose's cooldown; 30 s). */
  cooldownMs?: number;
  /** Keys older than this are refetched before use (jose's cacheMaxAge; 10 min). */
  cacheMaxAgeMs?: number;
  /** One fetch of the key set (jose's timeoutDuration; 5 s). */
  timeoutMs?: number;
  /** After a failed fetch, no new one for this long: requests do not each wait on a dead endpoint (5 s). */
  failureBackoffMs?: number;
}

/** The key source `jwtVerify` is given, and what readiness reads. */
export interface JwksKeys {
  getKey: JWTVerifyGetKey;
  /** Have keys been loaded at least once (they are kept, even stale, while the endpoint is down)? */
  loaded(): boolean;
  /** Fetches the key set now (one fetch at a time); false when it failed. */
  load(): Promise<boolean>;
  /** Like load, unless a fetch failed within the backoff or one is under way; never rejects. */
  loadInBackground(): void;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/** A failure to get the key set at all (network, timeout, non-200, not a key set), as jose reports it. */
function isFetchFailure(e: unknown): boolean {
  if (!(e instanceof errors.JOSEError)) return true; // fetch's own TypeError, an abort…
  return e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || e.code === 'ERR_JOSE_GENERIC';
}

/**
 * The provider's keys through jose's remote JWKS set (cached, refetched on an unknown `kid` with a
 * cooldown), plus the two things it does not do (SPEC: "keys already cached keep working while the
 * endpoint is down"): when a stale set cannot be refreshed, the keys it had are used instead of
 * failing every token; and a failed fetch is not retried by every request for `failureBackoffMs`.
 */
export function createJwksKeys(
  url: string,
  options: JwksOptions & { clock: Clock; log: Pick<Logger, 'warn' | 'info'> },
): JwksKeys {
  const { clock, log } = options;
  const backoffMs = options.failureBackoffMs ?? 5000;
  const remote = createRemoteJWKSet(new URL(url), {
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    timeoutDuration: options.timeoutMs ?? 5000,
  });
  let loaded = false;
  let failedAt = Number.NEGATIVE_INFINITY;
  let failing = false;
  /** The last keys fetched, used while the endpoint is down and the remote set calls them stale. */
  let fallback: LocalSet | undefined;

  const backingOff = () => clock.now() - failedAt < backoffMs;
  const failed = (e: unknown) => {
    failedAt = clock.now();
    if (!failing) {
      log.warn(
        { err: { message: (e as Error).message, code: (e as { code?: string }).code } },
        loaded
          ? 'JWKS endpoint unreachable: cached keys stay in use'
          : 'JWKS endpoint unreachable: JWT bearer tokens are refused (503) until its keys load',
      );
    }
    failing = true;
    if (loaded) fallback ??= createLocalJWKSet(remote.jwks() as NonNullable<ReturnType<typeof remote.jwks>>);
  };
  const succeeded = () => {
    if (failing || !loaded) log.info('JWKS keys loaded');
    loaded = true;
    failing = false;
    fallback = undefined;
  };

  /** The cached keys, when the endpoint cannot give newer ones; an unknown `kid` cannot be told bad from new. */
  async function fromCache(header: JWSHeaderParameters, token: FlattenedJWSInput) {
    if (!fallback) throw new KeysUnavailable();
    try {
      return await fallback(header, token);
    } catch (e) {
      if (e instanceof errors.JWKSNoMatchingKey) throw new KeysUnavailable({ cause: e });
      throw e;
    }
  }

  const getKey: JWTVerifyGetKey = async (header, token) => {
    const fresh = remote.fresh;
    if (!fresh && backingOff()) return fromCache(header, token);
    try {
      const key = await remote(header, token);
      succeeded();
      return key;
    } catch (e) {
      if (!isFetchFailure(e)) throw e;
      failed(e);
      // Fresh keys and still no match: the refetch for a new `kid` failed; 503, not 401.
      if (fresh) throw new KeysUnavailable({ cause: e });
      return fromCache(header, token);
    }
  };

  const load = async () => {
    try {
      await remote.reload();
      succeeded();
      return true;
    } catch (e) {
      failed(e);
      return false;
    }
  };

  return {
    getKey,
    loaded: () => loaded,
    load,
    loadInBackground: () => {
      if (!remote.reloading && !backingOff()) void load();
    },
  };
}
