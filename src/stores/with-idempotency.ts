import { type DomainError, isDomainError, ServiceError, UpstreamRefusal } from '../errors.js';
import type { IdempotencyStore, StoredResponse } from './idempotency.js';

/** One idempotent run: the scoped key, the upload's fingerprint, and how long records live. */
export interface IdempotencyClaim {
  /** The caller-scoped key (a digest of caller and Idempotency-Key). */
  key: string;
  /** Same name and same file bytes, in order: the same upload. */
  fingerprint: string;
  /** A claim outlives the longest a clone can take, so a crashed instance's claim expires on its own. */
  inFlightTtlMs: number;
  /** How long a definitive answer is replayed (24 h). */
  replayTtlMs: number;
}

/** What `withIdempotency` gives back: the answer, and whether it was replayed from the store. */
export interface IdempotentResult {
  answer: StoredResponse;
  replayed: boolean;
}

/** How the run reports a store failure it chose to survive. */
export type StoreFailure = (error: unknown) => void;

/**
 * Pipeline step (SPEC `Idempotency-Key`): runs `run` at most once per key and upload. The same key
 * and upload replays the stored answer; the same key while the first runs is 409; a different
 * upload is 422. Only definitive answers are stored: a success, Truedy's own refusal, or a failure
 * after Truedy's 2xx (the voice may exist: a retry must not clone again); `encodeFinal` gives the
 * answer such a failure becomes. Anything else releases the claim so a retry can succeed.
 */
export async function withIdempotency(
  store: IdempotencyStore,
  claim: IdempotencyClaim,
  run: () => Promise<StoredResponse>,
  encodeFinal: (e: DomainError) => StoredResponse,
  onStoreFailure: StoreFailure,
): Promise<IdempotentResult> {
  const found = await store.begin(claim.key, claim.fingerprint, claim.inFlightTtlMs);
  if (found.state !== 'started') {
    if (found.fingerprint !== claim.fingerprint) throw new ServiceError('idempotency_key_reuse');
    if (found.state === 'in_flight') throw new ServiceError('idempotency_conflict');
    return { answer: found.response, replayed: true };
  }
  // Storing the answer must never cost the caller the answer itself: the voice exists and
  // credits were spent (SPEC), so a store failure is reported, not thrown.
  const keep = (answer: StoredResponse) =>
    store
      .complete(claim.key, found.owner, claim.fingerprint, answer, claim.replayTtlMs)
      .catch(onStoreFailure);
  let answer: StoredResponse;
  try {
    answer = await run();
  } catch (error) {
    if (isFinal(error)) await keep(encodeFinal(error));
    else await store.release(claim.key, found.owner).catch(() => undefined);
    throw error;
  }
  await keep(answer);
  return { answer, replayed: false };
}

/** A failure the same upload would meet again, or after which Truedy may hold the voice. */
function isFinal(e: unknown): e is DomainError {
  return e instanceof UpstreamRefusal || (isDomainError(e) && e.facts.voiceMayExist === true);
}
