import type { Logger } from 'pino';

declare global {
  namespace Express {
    /** What each request carries through the app (`res.locals`), set by the middleware named. */
    interface Locals {
      /** request-context: the request's id (the caller's plain `X-Request-Id`, or a new one). */
      requestId: string;
      /** request-context: a child logger carrying the request id. */
      log: Logger;
      /** The clone and voice routes: upstream calls made. */
      upstreamAttempts?: number;
      /** The clone route: file bytes received. */
      uploadBytes?: number;
      /** Client auth: the caller's token id (a digest prefix, never the token). */
      clientId?: string;
    }
  }
}
