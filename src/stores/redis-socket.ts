import type { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { AbstractConnector, RedisOptions, SentinelConnectionOptions, SentinelConnector } from 'ioredis';

/** The connection options ioredis hands a connector (its RedisOptions, of which these are read). */
interface SocketOptions {
  host?: string;
  port?: number;
  family?: number;
  path?: string;
  tls?: ConnectionOptions;
  disconnectTimeout?: number;
}

/**
 * A connector class for ioredis (its `Connector` option), made from the AbstractConnector of the
 * ioredis this process loaded. It connects as ioredis' own StandaloneConnector does, and keeps one
 * error listener on the socket for its whole life. ioredis listens for a socket's first error
 * only (`once`): a TLS socket that fails twice (a refused certificate, then the alert the server
 * answers with) emits its second error to nobody, which Node throws as an uncaught exception, and
 * the whole service dies (ioredis issue #1183; the `on` fix, PR #961/#962, was closed). Seen here
 * in the TLS tests under load, on Node 20 and 24. The first error still reaches ioredis, which
 * logs it and reconnects; later ones are dropped here, the socket being already lost.
 */
export function steadySocketConnector(Base: typeof AbstractConnector) {
  return class SteadySocketConnector extends Base {
    private readonly options: SocketOptions;

    // ioredis passes its RedisOptions; its ConnectorConstructor type says `unknown`.
    constructor(options: unknown) {
      const o = options as SocketOptions;
      super(o.disconnectTimeout ?? 2000);
      this.options = o;
    }

    connect(): Promise<Socket | TLSSocket> {
      const { path, host, port, family, tls } = this.options;
      this.connecting = true;
      const tcp = { host, port: port ?? 6379, ...(family !== undefined ? { family } : {}) };
      // As StandaloneConnector: the socket is made on the next tick, unless disconnect() came first.
      return new Promise((resolve, reject) => {
        process.nextTick(() => {
          if (!this.connecting) {
            reject(new Error('Connection is closed.'));
            return;
          }
          let stream: Socket | TLSSocket;
          try {
            if (tls) stream = tlsConnect({ ...(path ? { path } : tcp), ...tls });
            else stream = path ? createConnection({ path }) : createConnection(tcp);
          } catch (error) {
            reject(error);
            return;
          }
          stream.once('error', (error) => {
            this.firstError = error;
          });
          stream.on('error', ignore);
          this.stream = stream;
          resolve(stream);
        });
      });
    }
  };
}

/**
 * The same for Sentinel mode, made from the ioredis this process loaded: ioredis' own
 * SentinelConnector (it asks the sentinels where the primary is and follows failovers), with an
 * error listener kept on the primary's socket, and every client it opens to a sentinel connecting
 * through `Steady`, the `steadySocketConnector` class (with `sentinelTLS`, the same double failure
 * applies to them).
 * Given as the `Connector` option, it is not handed the client as its emitter, so ioredis'
 * test-only events `sentinelReconnecting` and `failoverSubscribed` are not emitted; failover
 * detection itself does not use them.
 */
export function steadySentinelConnector(
  Base: typeof SentinelConnector,
  Steady: ReturnType<typeof steadySocketConnector>,
) {
  // @ts-expect-error ioredis declares connectToSentinel private, so a subclass may not redefine it;
  // it is the one place sentinel clients are made (lookups and the failover detector alike).
  return class SteadySentinelConnector extends Base {
    // ioredis passes its RedisOptions; its ConnectorConstructor type says `unknown`.
    constructor(options: unknown) {
      super(options as SentinelConnectionOptions);
    }

    override async connect(...args: Parameters<SentinelConnector['connect']>) {
      const stream = await super.connect(...args);
      stream.on('error', ignore);
      return stream;
    }

    private override connectToSentinel(endpoint: unknown, options?: Partial<RedisOptions>) {
      // @ts-expect-error private, as above: the base class's own method, with our connector added.
      const client: EventEmitter = super.connectToSentinel(endpoint, { ...options, Connector: Steady });
      // Without a listener ioredis prints each of a sentinel client's errors to stderr as plain
      // text ("[ioredis] Unhandled error event"), beside the JSON log. What matters still arrives:
      // every sentinel unreachable is the main client's own error, which the service logs.
      client.on('error', ignore);
      return client;
    }
  };
}

const ignore = () => undefined;
