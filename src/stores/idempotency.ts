import { randomUUID } from 'node:crypto';

/** A stored definitive answer, replayed for the same key and upload. */
export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** What `begin` found for a key. */
export type BeginResult =
  | { state: 'started'; owner: string }
  | { state: 'in_flight'; fingerprint: string }
  | { state: 'done'; fingerprint: string; response: StoredResponse };

/** Idempotency records (SPEC `Idempotency-Key`): in memory, or in Redis when REDIS_URL is set. */
export interface IdempotencyStore {
  /** Claims `key` for an upload with `fingerprint`, or tells what is already there. */
  begin(key: string, fingerprint: string, inFlightTtlMs: number): Promise<BeginResult>;
  /** Stores the definitive answer for 24 h (SPEC: 2xx and upstream 400/402/422). */
  complete(
    key: string,
    owner: string,
    fingerprint: string,
    response: StoredResponse,
    ttlMs: number,
  ): Promise<void>;
  /** Drops the claim after an answer that must not be replayed (429, 5xx, timeouts), so a retry can succeed. */
  release(key: string, owner: string): Promise<void>;
}

/** The record kept under a key, in memory or as JSON in Redis. */
export interface IdempotencyRecord {
  state: 'in_flight' | 'done';
  owner: string;
  fingerprint: string;
  response?: StoredResponse;
}

/** Interprets an existing record for `begin`. */
export function existing(record: IdempotencyRecord): BeginResult {
  return record.state === 'done' && record.response
    ? { state: 'done', fingerprint: record.fingerprint, response: record.response }
    : { state: 'in_flight', fingerprint: record.fingerprint };
}

/** In-process records: bounded in count, each with an expiry. */
export function createMemoryIdempotencyStore(
  maxEntries = 10_000,
  now: () => number = Date.now,
): IdempotencyStore {
  const records = new Map<string, IdempotencyRecord & { expires: number }>();
  const live = (key: string) => {
    const r = records.get(key);
    if (r && r.expires <= now()) records.delete(key);
    return r && r.expires > now() ? r : undefined;
  };
  const put = (key: string, record: IdempotencyRecord, ttlMs: number) => {
    records.delete(key);
    if (records.size >= maxEntries) records.delete(records.keys().next().value as string);
    records.set(key, { ...record, expires: now() + ttlMs });
  };
  return {
    async begin(key, fingerprint, inFlightTtlMs) {
      const r = live(key);
      if (r) return existing(r);
      const owner = randomUUID();
      put(key, { state: 'in_flight', owner, fingerprint }, inFlightTtlMs);
      return { state: 'started', owner };
    },
    async complete(key, owner, fingerprint, response, ttlMs) {
      if (live(key)?.owner === owner) put(key, { state: 'done', owner, fingerprint, response }, ttlMs);
    },
    async release(key, owner) {
      if (live(key)?.owner === owner) records.delete(key);
    },
  };
}
