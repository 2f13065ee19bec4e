import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ServiceError } from '../errors.js';
import { existing, type IdempotencyRecord, type IdempotencyStore } from './idempotency.js';
import type { PacingSettings, UpstreamGate } from './upstream-gate.js';

// ioredis and rate-limit-redis are loaded only when REDIS_URL is set: a single instance does not
// pay their memory (about 20 MiB of RSS, measured with `npm run bench`).
const load = createRequire(import.meta.url);

/** Key prefix for everything this service keeps in Redis. */
const PREFIX = 'truedy-bff:';

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

/** SPEC's 503 store_unavailable, with the Retry-After every Redis failure gets. */
function storeUnavailable(details?: Record<string, unknown>): ServiceError {
  return new ServiceError('store_unavailable', undefined, details, { retryAfterMs: 5000 });
}

/** Any Redis failure becomes SPEC's 503 store_unavailable: the service refuses rather than run unlimited. */
async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw storeUnavailable();
  }
}

/**
 * rate-limit-redis loads its Lua scripts once at start-up and keeps the promise: when Redis was
 * down then, every later call would fail for good. Reloading after a failure lets it recover by itself.
 */
function recoveringRedisStore(options: {
  prefix: string;
  sendCommand: (...args: string[]) => Promise<never>;
}): Store {
  const { RedisStore } = load('rate-limit-redis') as typeof import('rate-limit-redis');
  class RecoveringRedisStore extends RedisStore {
    override async increment(key: string): Promise<IncrementResponse> {
      try {
        return await super.increment(key);
      } catch {
        try {
          this.incrementScriptSha = this.loadIncrementScript();
          return await super.increment(key);
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
  return new RecoveringRedisStore(options);
}

/** The Redis-backed stores: shared limits, cooldown, pacing (and idempotency records). */
export interface RedisStores {
  redis: Redis;
  gate: UpstreamGate;
  rateLimitStore: Store;
  idempotency: IdempotencyStore;
  healthy(): Promise<boolean>;
  ready(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Connects to REDIS_URL. Commands fail fast while disconnected (no offline queue); reconnects forever. */
export function createRedisStores(url: string, pacing: PacingSettings, logger: Logger): RedisStores {
  const { Redis: RedisClient } = load('ioredis') as typeof import('ioredis');
  const redis = new RedisClient(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
  let lastLog = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastLog < 10_000) return;
    lastLog = Date.now();
    logger.error(
      { err: { message: error.message } },
      'Redis unavailable: clone requests answer 503 store_unavailable',
    );
  });
  redis.on('ready', () => {
    lastLog = 0;
    logger.info('Redis connected');
  });

  redis.defineCommand('bffReserve', { numberOfKeys: 2, lua: RESERVE });
  redis.defineCommand('bffSetCooldown', { numberOfKeys: 1, lua: SET_COOLDOWN });
  redis.defineCommand('bffIfOwner', { numberOfKeys: 1, lua: IF_OWNER });
  // ioredis sends these as EVALSHA and falls back to EVAL after a Redis restart.
  const scripts = redis as unknown as {
    bffReserve(...args: (string | number)[]): Promise<[number, number]>;
    bffSetCooldown(...args: (string | number)[]): Promise<number>;
    bffIfOwner(...args: (string | number)[]): Promise<number>;
  };
  const booked = `${PREFIX}upstream:booked`;
  const cooldown = `${PREFIX}upstream:cooldown`;
  const gate: UpstreamGate = {
    reserve: (now, deadline) =>
      guarded(async () => {
        const [ok, at] = await scripts.bffReserve(
          booked,
          cooldown,
          now,
          deadline,
          pacing.limit,
          pacing.windowMs,
          `${now}:${randomUUID()}`,
        );
        return { ok: ok === 1, at };
      }),
    cooldownUntil: () => guarded(async () => Number((await redis.get(cooldown)) ?? 0)),
    setCooldown: (until) =>
      guarded(async () => {
        await scripts.bffSetCooldown(cooldown, until, Date.now());
      }),
  };

  const rateLimitStore = recoveringRedisStore({
    prefix: `${PREFIX}rl:`,
    sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as never,
  });

  const idemKey = (key: string) => `${PREFIX}idem:${key}`;
  const idempotency: IdempotencyStore = {
    begin: (key, fingerprint, inFlightTtlMs) =>
      guarded(async () => {
        const owner = randomUUID();
        const record: IdempotencyRecord = { state: 'in_flight', owner, fingerprint };
        if (await redis.set(idemKey(key), JSON.stringify(record), 'PX', inFlightTtlMs, 'NX')) {
          return { state: 'started', owner };
        }
        const current = await redis.get(idemKey(key));
        // Expired between SET NX and GET: the caller may simply try again.
        if (!current) throw new ServiceError('idempotency_conflict');
        return existing(JSON.parse(current) as IdempotencyRecord);
      }),
    complete: (key, owner, fingerprint, response, ttlMs) =>
      guarded(async () => {
        const record: IdempotencyRecord = { state: 'done', owner, fingerprint, response };
        await scripts.bffIfOwner(idemKey(key), owner, JSON.stringify(record), ttlMs);
      }),
    release: (key, owner) =>
      guarded(async () => {
        await scripts.bffIfOwner(idemKey(key), owner, '', 0);
      }),
  };

  return {
    redis,
    gate,
    rateLimitStore,
    idempotency,
    healthy: async () => {
      try {
        return redis.status === 'ready' && (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    ready: (timeoutMs) =>
      new Promise((resolve) => {
        if (redis.status === 'ready') return resolve(true);
        const timer = setTimeout(() => resolve(false), timeoutMs);
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve(true);
        });
      }),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
