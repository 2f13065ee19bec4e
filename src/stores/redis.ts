import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type { Result } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisReply } from 'rate-limit-redis';
import { ServiceError } from '../errors.js';
import { existing, type IdempotencyRecord, type IdempotencyStore } from './idempotency.js';
import { connectRedis, type RedisConnection, type RedisSettings, withDeadline } from './redis-connection.js';
import type { PacingSettings, UpstreamGate } from './upstream-gate.js';

// rate-limit-redis is loaded only when Redis is configured (see redis-connection.ts).
const load = createRequire(import.meta.url);

// The scripts below, typed on every ioredis client (Redis and Cluster alike). ioredis sends them
// as EVALSHA, routed by their keys, and falls back to EVAL where a node does not have them yet.
declare module 'ioredis' {
  interface RedisCommander<Context> {
    bffReserve(
      booked: string,
      cooldown: string,
      now: number,
      deadline: number,
      limit: number,
      windowMs: number,
      member: string,
    ): Result<[number, number], Context>;
    bffSetCooldown(cooldown: string, untilMs: number, now: number): Result<number, Context>;
    bffIfOwner(key: string, owner: string, record: string, ttlMs: number): Result<number, Context>;
  }
}

/**
 * Every key this service writes: the prefix (REDIS_KEY_PREFIX) inside one hash tag per shared
 * structure, so in Cluster mode each structure lives in one slot and the pacing script's two
 * keys can be used together (CROSSSLOT otherwise). Any prefix keeps this: Redis hashes the text
 * between the first `{` and the next `}`, which is the same for every key of one structure.
 */
export function redisKeys(prefix: string) {
  const tag = (structure: string) => `{${prefix}${structure}}`;
  return {
    booked: `${tag('upstream')}:booked`,
    cooldown: `${tag('upstream')}:cooldown`,
    rateLimitPrefix: `${tag('rl')}:`,
    idempotency: (key: string) => `${tag('idem')}:${key}`,
  };
}

/**
 * The same rule as `nextSlot` (upstream-gate.ts), run atomically in Redis so every instance books
 * from one shared, ordered list of send times.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local deadline = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[1])
  if n > 0 then
    at = math.max(at, tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]))
  end
  if n >= limit then
    at = math.max(at, tonumber(redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')[2]) + window)
  end
end
if at > deadline then return {0, at} end
if limit > 0 then
  redis.call('ZADD', KEYS[1], at, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.floor(at - now + window) + 1000)
end
return {1, at}
`;

const SET_COOLDOWN = `
local untilMs = tonumber(ARGV[1])
if untilMs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untilMs, 'PX', math.max(1, math.floor(untilMs - tonumber(ARGV[2]))) + 1000)
end
return 1
`;

/** Replaces or deletes a record only while `owner` still holds it (an expired claim may have been taken over). */
const IF_OWNER = `
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current).owner ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;

/** SPEC's 503 store_unavailable; the caller is told when to try again. */
function storeUnavailable(details?: Record<string, unknown>): ServiceError {
  return new ServiceError('store_unavailable', undefined, details, { retryAfterMs: 5000 });
}

/** Any Redis failure becomes SPEC's 503 store_unavailable: the service refuses rather than run unlimited. */
async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await withDeadline(op());
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw storeUnavailable();
  }
}

/**
 * rate-limit-redis loads its Lua scripts once at start-up and keeps the promise: when Redis was
 * down then, every later call would fail for good. Reloading after a failure lets it recover by itself.
 */
function recoveringRedisStore(connection: RedisConnection, prefix: string): Store {
  const { RedisStore } = load('rate-limit-redis') as typeof import('rate-limit-redis');
  const { client } = connection;
  class RecoveringRedisStore extends RedisStore {
    override async increment(key: string): Promise<IncrementResponse> {
      try {
        return await withDeadline(super.increment(key));
      } catch {
        try {
          this.incrementScriptSha = this.loadIncrementScript();
          return await withDeadline(super.increment(key));
        } catch (error) {
          this.incrementScriptSha.catch(() => undefined);
          throw storeUnavailable({ cause: (error as Error).message });
        }
      }
    }

    override async init(options: Options): Promise<void> {
      await super.init(options).catch(() => undefined); // loaded again on first use
    }
  }
  return new RecoveringRedisStore({
    prefix,
    // The key-aware form (rate-limit-redis' answer to its issue #55, a plain sendCommand that
    // hangs or lands on the wrong node in cluster mode). ioredis routes EVALSHA by its key; only
    // SCRIPT LOAD, which has none, needs help: it goes to every master.
    sendCommandCluster: async ({ command: [name = '', ...args] }) =>
      (name.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD'
        ? connection.loadScript(args[1] ?? '')
        : client.call(name, ...args)) as Promise<RedisReply>,
  });
}

/** The Redis-backed stores: shared limits, cooldown, pacing (and idempotency records). */
export interface RedisStores {
  gate: UpstreamGate;
  rateLimitStore: Store;
  idempotency: IdempotencyStore;
  /** Connected, and every node holding one of the structures answers (SPEC `/readyz`). */
  healthy(): Promise<boolean>;
  ready(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Connects to Redis as configured (one server over TCP or TLS, Sentinel, or Cluster). Commands
 * fail fast while disconnected (no offline queue); the client reconnects by itself, forever.
 */
export function createRedisStores(
  settings: RedisSettings,
  pacing: PacingSettings,
  logger: Logger,
): RedisStores {
  const connection = connectRedis(settings, logger);
  const { client } = connection;
  client.defineCommand('bffReserve', { numberOfKeys: 2, lua: RESERVE });
  client.defineCommand('bffSetCooldown', { numberOfKeys: 1, lua: SET_COOLDOWN });
  client.defineCommand('bffIfOwner', { numberOfKeys: 1, lua: IF_OWNER });

  const keys = redisKeys(settings.keyPrefix);
  const gate: UpstreamGate = {
    reserve: (now, deadline) =>
      guarded(async () => {
        const id = `${now}:${randomUUID()}`;
        const [ok, at] = await client.bffReserve(
          keys.booked,
          keys.cooldown,
          now,
          deadline,
          pacing.limit,
          pacing.windowMs,
          id,
        );
        return ok === 1 && pacing.limit > 0 ? { ok: true, at, id } : { ok: ok === 1, at };
      }),
    release: (slot) =>
      guarded(async () => {
        if (slot.id !== undefined) await client.zrem(keys.booked, slot.id);
      }),
    cooldownUntil: () => guarded(async () => Number((await client.get(keys.cooldown)) ?? 0)),
    setCooldown: (until) =>
      guarded(async () => {
        await client.bffSetCooldown(keys.cooldown, until, Date.now());
      }),
  };

  const rateLimitStore = recoveringRedisStore(connection, keys.rateLimitPrefix);

  const idempotency: IdempotencyStore = {
    begin: (key, fingerprint, inFlightTtlMs) =>
      guarded(async () => {
        const owner = randomUUID();
        const record: IdempotencyRecord = { state: 'in_flight', owner, fingerprint };
        const k = keys.idempotency(key);
        if (await client.set(k, JSON.stringify(record), 'PX', inFlightTtlMs, 'NX')) {
          return { state: 'started', owner };
        }
        const current = await client.get(k);
        // Expired between SET NX and GET: the caller may simply try again.
        if (!current) throw new ServiceError('idempotency_conflict');
        return existing(JSON.parse(current) as IdempotencyRecord);
      }),
    complete: (key, owner, fingerprint, response, ttlMs) =>
      guarded(async () => {
        const record: IdempotencyRecord = { state: 'done', owner, fingerprint, response };
        await client.bffIfOwner(keys.idempotency(key), owner, JSON.stringify(record), ttlMs);
      }),
    release: (key, owner) =>
      guarded(async () => {
        await client.bffIfOwner(keys.idempotency(key), owner, '', 0);
      }),
  };

  // One key per structure: in cluster mode, the nodes that hold the shared state.
  const probes = [keys.booked, keys.rateLimitPrefix, keys.idempotency('')];
  return {
    gate,
    rateLimitStore,
    idempotency,
    healthy: () => connection.healthy(probes),
    ready: connection.ready,
    close: connection.close,
  };
}
