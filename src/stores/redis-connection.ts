import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { steadySentinelConnector, steadySocketConnector } from './redis-socket.js';

// ioredis is loaded only when Redis is configured: a single instance does not pay its memory
// (about 20 MiB of RSS with rate-limit-redis, measured with `npm run bench`).
const load = createRequire(import.meta.url);

/** How to reach Redis, as config.ts parses it (SPEC "Several instances"). */
export interface RedisSettings {
  /** `redis://` or `rediss://`; several only as Cluster seed nodes. */
  urls: string[];
  cluster: boolean;
  sentinels: { host: string; port: number }[];
  sentinelName?: string | undefined;
  tls: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined };
  keyPrefix: string;
}

/** A connected ioredis client of any mode: one server (plain or behind Sentinel), or a Cluster. */
export type RedisClient = Redis | Cluster;

/** One client, whichever the mode, with the checks and the shutdown every mode answers the same way. */
export interface RedisConnection {
  client: RedisClient;
  mode: 'single' | 'sentinel' | 'cluster';
  /** Loads a script on every node that may run it (rate-limit-redis' SCRIPT LOAD); returns its SHA1. */
  loadScript(script: string): Promise<string>;
  /** Ready and answering: in cluster mode, every node that holds one of `keys` answers. */
  healthy(keys: string[]): Promise<boolean>;
  /** Resolves true once connected, false after `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Longest wait for one command; with no offline queue, a disconnected client fails at once. */
const COMMAND_TIMEOUT_MS = 2000;
/** Reconnects forever, at most this far apart: the store recovers by itself (SPEC "store_unavailable"). */
const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * The longest one store operation may take, whatever the mode: a Cluster follows redirections and
 * waits out a failover for a while, each try with its own command timeout; this caps the sum.
 */
const OPERATION_DEADLINE_MS = 3000;

/** Runs `op`, failing it once OPERATION_DEADLINE_MS has passed. */
export async function withDeadline<T>(op: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Redis did not answer in time')), OPERATION_DEADLINE_MS);
  });
  try {
    return await Promise.race([op, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pause before a client that ended on its own is connected again. */
const RESTART_DELAY_MS = 100;

const reconnectDelay = (times: number) => Math.min(50 * times, MAX_RECONNECT_DELAY_MS);

/** Reads one of the TLS files, naming its variable when it cannot be read (start-up stops). */
function readTlsFile(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${variable}: cannot read ${file}: ${(error as Error).message}`);
  }
}

/**
 * TLS for `rediss://`: the certificate chain and the host name are always verified (Node's
 * defaults, stated here so no option can turn them off); the private CA replaces the system CAs
 * when REDIS_TLS_CA_FILE is set, and a client certificate and key are sent for mutual TLS.
 */
function tlsOptions(settings: RedisSettings): ConnectionOptions {
  const { caFile, certFile, keyFile } = settings.tls;
  return {
    rejectUnauthorized: true,
    ...(caFile ? { ca: readTlsFile('REDIS_TLS_CA_FILE', caFile) } : {}),
    ...(certFile ? { cert: readTlsFile('REDIS_TLS_CERT_FILE', certFile) } : {}),
    ...(keyFile ? { key: readTlsFile('REDIS_TLS_KEY_FILE', keyFile) } : {}),
  };
}

/**
 * Address and credentials from one URL. Read here rather than handed to ioredis, which would let
 * query parameters (`?enableOfflineQueue=…`) override the options below.
 */
function fromUrl(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
} {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
  };
}

/** Options every connection gets: fail fast while disconnected (no offline queue), reconnect forever. */
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: COMMAND_TIMEOUT_MS,
  retryStrategy: reconnectDelay,
  // How long a closing connection may linger before it is destroyed (ioredis waits 2 s, even
  // for a socket that a failed TLS handshake has already closed, and so delays shutdown).
  disconnectTimeout: 500,
  // No CLIENT SETINFO on connect: Redis before 7.2 refuses it, and each one costs a round trip
  // (and a command timer) on every reconnection attempt.
  disableClientInfo: true,
  // A primary demoted under us (Sentinel failover, a managed endpoint moved) answers READONLY:
  // reconnect, which asks Sentinel or DNS again; the failed command is not resent.
  reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 1 : false),
};

function createClient(settings: RedisSettings): { client: RedisClient; mode: RedisConnection['mode'] } {
  const ioredis = load('ioredis') as typeof import('ioredis');
  const { Redis: RedisCtor, Cluster: ClusterCtor } = ioredis;
  // Every socket keeps an error listener (see redis-socket.ts), in every mode.
  const Connector = steadySocketConnector(ioredis.AbstractConnector);
  const tls = settings.urls.length > 0 && settings.urls.every((u) => u.startsWith('rediss:'));
  const tlsOpts = tls ? tlsOptions(settings) : undefined;

  if (settings.cluster) {
    const seeds = settings.urls.map(fromUrl);
    const { username, password } = seeds[0] ?? {};
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: reconnectDelay,
      // A command follows MOVED/ASK and retries CLUSTERDOWN, TRYAGAIN or a lost node (100 ms
      // apart) at most this many times in all: a failover is waited out briefly, then it fails.
      maxRedirections: 6,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: COMMAND_TIMEOUT_MS,
      // A promoted replica is found by MOVED, and also by this periodic refresh.
      slotsRefreshInterval: 5000,
      redisOptions: {
        ...FAIL_FAST,
        Connector,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(tlsOpts ? { tls: tlsOpts } : {}),
      },
      // With TLS the nodes are reached by the names the cluster announces, unresolved, so the
      // certificate is checked against those names (managed clusters announce host names).
      ...(tlsOpts ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    };
    return {
      client: new ClusterCtor(
        seeds.map(({ host, port }) => ({ host, port })),
        options,
      ),
      mode: 'cluster',
    };
  }

  if (settings.sentinels.length > 0) {
    // REDIS_URL, when set beside the sentinels, gives the scheme and credentials of the data
    // nodes; their address always comes from Sentinel.
    const { username, password, db } = settings.urls[0] ? fromUrl(settings.urls[0]) : {};
    return {
      client: new RedisCtor({
        ...FAIL_FAST,
        sentinels: settings.sentinels,
        Connector: steadySentinelConnector(ioredis.SentinelConnector, Connector),
        name: settings.sentinelName as string,
        role: 'master',
        // Subscribes to +switch-master, so a failover is followed at once, not at the next error.
        failoverDetector: true,
        sentinelRetryStrategy: reconnectDelay,
        sentinelCommandTimeout: COMMAND_TIMEOUT_MS,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(db !== undefined ? { db } : {}),
        ...(tlsOpts ? { tls: tlsOpts, sentinelTLS: tlsOpts, enableTLSForSentinelMode: true } : {}),
      }),
      mode: 'sentinel',
    };
  }

  return {
    client: new RedisCtor({
      ...FAIL_FAST,
      Connector,
      ...fromUrl(settings.urls[0] as string),
      ...(tlsOpts ? { tls: tlsOpts } : {}),
    }),
    mode: 'single',
  };
}

/**
 * Connects to Redis in the mode the settings name (one server, TLS or not; Sentinel; Cluster).
 * Commands fail fast while disconnected; the client reconnects by itself, forever.
 */
export function connectRedis(settings: RedisSettings, logger: Logger): RedisConnection {
  const { client, mode } = createClient(settings);
  let lastLog = 0;
  const logError = (error: Error) => {
    if (Date.now() - lastLog < 10_000) return;
    lastLog = Date.now();
    logger.error(
      { err: { message: error.message }, mode },
      'Redis unavailable: clone requests answer 503 store_unavailable',
    );
  };
  client.on('error', logError);
  // A Cluster reports a node's failure here, not as its own error.
  if (mode === 'cluster') client.on('node error', logError);
  client.on('ready', () => {
    lastLog = 0;
    logger.info({ mode }, 'Redis connected');
  });

  // The client must never give up while the service runs (SPEC: recover by itself), yet ioredis
  // ends a Sentinel client for good when +switch-master reaches its failover detector while it is
  // reconnecting (the detector aborts the attempt under way). An end we did not ask for is
  // followed by a fresh connection.
  let closing = false;
  let restart: NodeJS.Timeout | undefined;
  client.on('end', () => {
    if (closing) return;
    clearTimeout(restart);
    restart = setTimeout(() => {
      if (!closing && client.status === 'end') client.connect().catch(() => undefined);
    }, RESTART_DELAY_MS);
  });

  const cluster = mode === 'cluster' ? (client as Cluster) : undefined;
  return {
    client,
    mode,
    loadScript: async (script) => {
      // A Cluster sends a keyless command to one node picked at random, so the script would be
      // missing where its key lives: load it on every master (the SHA1 is the same everywhere).
      if (!cluster) return String(await client.call('SCRIPT', 'LOAD', script));
      return Promise.any(
        cluster.nodes('master').map(async (node) => String(await node.call('SCRIPT', 'LOAD', script))),
      );
    },
    healthy: async (keys) => {
      try {
        if (client.status !== 'ready') return false;
        if (!cluster) return (await withDeadline(client.ping())) === 'PONG';
        // One PING to a random node says little: ask each node that holds one of our structures.
        await withDeadline(Promise.all(keys.map((key) => cluster.exists(key))));
        return true;
      } catch {
        return false;
      }
    },
    ready: (timeoutMs) =>
      new Promise((resolve) => {
        if (client.status === 'ready') return resolve(true);
        const onReady = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        client.once('ready', onReady);
      }),
    close: async () => {
      closing = true;
      clearTimeout(restart);
      await client.quit().catch(() => undefined);
      // QUIT leaves Sentinel's failover-detector subscriptions open (ioredis issue #1362, "call
      // disconnect()"), and does nothing for a client still reconnecting.
      client.disconnect();
    },
  };
}
