import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { listen } from './kit.js';
import { suiteResource } from './suite.js';

/** The issuer and audience the tests' provider uses (AUTH_ISSUER, AUTH_AUDIENCE). */
export const ISSUER = 'https://idp.example.test/realms/corp';
export const AUDIENCE = 'truedy-voice-bff';

/** The settings for a service taking this provider's JWTs from `jwksUrl`; `extra` adds to them. */
export function jwtEnv(jwksUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, ...extra };
}

/** A signing key of the test's own provider: the private half signs, the public half is in the JWKS. */
export interface TestKey {
  kid: string;
  alg: string;
  jwk: JWK;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Generates a key pair with jose and its public JWK, named `kid`. */
export async function makeKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, jwk, privateKey, publicKey };
}

/** Claims of a token; iat/exp/nbf in seconds since the epoch, as JWTs carry them. */
export type Claims = JWTPayload & { email?: string };

/** Signs `claims` with `key` (issuer and audience default to the provider's; exp 5 min after `nowS`). */
export function signToken(key: TestKey, nowS: number, claims: Claims = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: nowS, exp: nowS + 300, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An unsigned token (`alg: none`), built by hand: jose will not make one. */
export function unsignedToken(nowS: number, claims: Claims = {}): string {
  const payload = { iss: ISSUER, aud: AUDIENCE, iat: nowS, exp: nowS + 300, ...claims };
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

/**
 * The algorithm-confusion attack: an HS256 token whose HMAC secret is the provider's public key
 * (its PEM, as a careless verifier would hand it to HMAC), naming that key's `kid`.
 */
export async function hs256WithPublicKey(key: TestKey, nowS: number, claims: Claims = {}): Promise<string> {
  const pem = await exportSPKI(key.publicKey);
  const head = `${b64url({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64url({
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowS,
    exp: nowS + 300,
    ...claims,
  })}`;
  return `${head}.${createHmac('sha256', pem).update(head).digest('base64url')}`;
}

/**
 * The provider's JWKS endpoint on 127.0.0.1: serves `keys`, counts its hits, and can be taken down
 * (connections are dropped, as from an endpoint that cannot be reached).
 */
export async function startJwks(keys: TestKey[] = []) {
  let hits = 0;
  let down = false;
  const running = await listen((req: IncomingMessage, res: ServerResponse) => {
    hits += 1;
    if (down) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  });
  return {
    url: `${running.url}/.well-known/jwks.json`,
    keys,
    hits: () => hits,
    setDown(value: boolean) {
      down = value;
    },
    close: () => running.close(),
  };
}

/** A JWKS endpoint as startJwks returns it. */
export type JwksServer = Awaited<ReturnType<typeof startJwks>>;

/** A JWKS endpoint as suiteJwks gives it: `key(kid)` is one of the keys it publishes. */
export type SuiteJwks = JwksServer & { key(kid: string): TestKey };

/**
 * The provider for a describe block: before its tests, a key for each `kid` (`[kid, alg]` for
 * another algorithm than RS256) and a JWKS endpoint publishing them; closed after the tests.
 */
export function suiteJwks(...kids: (string | [kid: string, alg: string])[]): () => SuiteJwks {
  return suiteResource(
    async () => {
      const keys = await Promise.all(kids.map((k) => (typeof k === 'string' ? makeKey(k) : makeKey(...k))));
      const server = await startJwks(keys);
      const key = (kid: string) => {
        const found = server.keys.find((k) => k.kid === kid);
        if (!found) throw new Error(`suiteJwks: no key ${kid}`);
        return found;
      };
      return { ...server, key };
    },
    (server) => server.close(),
  );
}
