import type { Logger } from 'pino';
import type { CloneFacts } from '../audit/clone-entry.js';
import type { Caller } from '../identity/caller.js';

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
      /** authenticate: who the request is (never sent to Truedy, never in an answer). */
      caller?: Caller;
      /** The clone route: what it has learned of the upload so far, for the audit trail. */
      cloneFacts?: CloneFacts;
      /** The clone route: the upload's total audio length, from the audio-facts step. */
      audioSeconds?: number;
      /** The clone route: its outcome is in the audit trail (so it is written once). */
      audited?: boolean;
    }
  }
}
