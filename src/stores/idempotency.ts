import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';

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

/** In-process records: bounded in count (least recently used go first), each with its own expiry. */
export function createMemoryIdempotencyStore(
  maxEntries = 10_000,
  now: () => number = Date.now,
): IdempotencyStore {
  const records = new LRUCache<string, IdempotencyRecord>({ max: maxEntries, perf: { now } });
  return {
    async begin(key, fingerprint, inFlightTtlMs) {
      const r = records.get(key);
      if (r) return existing(r);
      const owner = randomUUID();
      records.set(key, { state: 'in_flight', owner, fingerprint }, { ttl: inFlightTtlMs });
      return { state: 'started', owner };
    },
    async complete(key, owner, fingerprint, response, ttlMs) {
      if (records.get(key)?.owner === owner) {
        records.set(key, { state: 'done', owner, fingerprint, response }, { ttl: ttlMs });
      }
    },
    async release(key, owner) {
      if (records.get(key)?.owner === owner) records.delete(key);
    },
  };
}
