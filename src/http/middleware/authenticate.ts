import type { NextFunction, Request, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Authenticator } from '../../identity/authenticator.js';
import { type Caller, ipCaller } from '../../identity/caller.js';
import '../locals.js';

/** Express's compiled TRUST_PROXY (`app.set('trust proxy', …)` keeps it as `trust proxy fn`). */
type TrustFn = (address: string, hop: number) => boolean;

/**
 * Is the request's own peer, the socket's remote address (never X-Forwarded-For), an address
 * TRUST_PROXY trusts? Hop 0 asks Express's trust function about the nearest hop, as `req.ip` does.
 */
function peerTrusted(req: Request): boolean {
  const trust = req.app.get('trust proxy fn') as TrustFn | undefined;
  const peer = req.socket.remoteAddress;
  return Boolean(trust && peer && trust(peer, 0));
}

/** Who a request is: the authenticated caller, else its IP (TRUST_PROXY honoured, IPv6 /56). */
export function callerOf(req: Request, res: Response): Caller {
  return res.locals.caller ?? ipCaller(ipKeyGenerator(req.ip ?? 'unknown'));
}

/**
 * Authentication for `/api/*` (SPEC "Identity, consent and audit"): reads the credentials offered
 * (the bearer, and the proxy's user header only from a trusted peer: from anywhere else it is not a
 * credential at all) and puts the caller on `res.locals.caller`.
 */
export function authenticate(authenticator: Authenticator, proxyUserHeader: string | undefined) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const proxyUser = proxyUserHeader && peerTrusted(req) ? req.headersDistinct[proxyUserHeader] : undefined;
    const caller = await authenticator.authenticate({ authorization: req.get('authorization'), proxyUser });
    res.locals.caller = caller ?? callerOf(req, res);
    next();
  };
}
