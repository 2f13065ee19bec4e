import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { Redis as RedisClient } from 'ioredis';
import { Redis } from 'ioredis';
import { freePort } from './net.js';
import { run, spawnRedis, type TestRedis, until } from './redis.js';

/** A folder of the suite's own for certificates and node configs, removed by `cleanup`. */
function scratch(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bff-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `count` distinct free ports (a cluster node needs two: clients and the cluster bus). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** An admin connection to one test server, for the test's own checks (never the service's). */
function admin(port: number, tls?: ConnectionOptions): RedisClient {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    ...(tls ? { tls } : {}),
  });
  client.on('error', () => undefined);
  return client;
}

// ---------------------------------------------------------------------------------------------
// TLS

/** A certificate and its key, as files. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Certificates made by `makeCerts`: one private CA and what it signed, plus an unrelated CA. */
export interface TestCerts {
  dir: string;
  /** The private CA the service is given (REDIS_TLS_CA_FILE). */
  ca: string;
  /** A second CA, unrelated to the first. */
  otherCa: string;
  /** Signed by `ca`, for 127.0.0.1 and localhost (subjectAltName). */
  server: CertFiles;
  /** For 127.0.0.1 too, but signed by `otherCa`. */
  otherCaServer: CertFiles;
  /** Signed by `ca`, but for another host name only. */
  otherHostServer: CertFiles;
  /** A client certificate signed by `ca`, for mutual TLS. */
  client: CertFiles;
  cleanup(): void;
}

/** Throws, naming how to install it, when openssl is missing (tests fail, never skip). */
function requireOpenssl(): void {
  if (spawnSync('openssl', ['version']).status !== 0)
    throw new Error('openssl is not on PATH (apt-get install openssl)');
}

/** Makes the TLS tests' certificates with `openssl` (P-256 keys, valid two days). */
export async function makeCerts(): Promise<TestCerts> {
  requireOpenssl();
  const { dir, cleanup } = scratch('tls');
  const f = (name: string) => path.join(dir, name);
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  /** A certificate and key named `name`: self-signed (a CA) without `issuer`, else a leaf it signs. */
  const cert = (name: string, issuer?: string, ext: string[] = []) =>
    run('openssl', [
      'req',
      '-x509',
      ...(issuer ? ['-CA', f(`${issuer}.crt`), '-CAkey', f(`${issuer}.key`)] : []),
      ...key,
      ...['-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-subj', `/CN=${name}`],
      ...(issuer ? ['-addext', 'basicConstraints=critical,CA:FALSE'] : []),
      ...ext.flatMap((e) => ['-addext', e]),
    ]);
  await Promise.all([cert('test-ca'), cert('other-ca')]);
  await Promise.all([
    cert('server', 'test-ca', ['subjectAltName=IP:127.0.0.1,DNS:localhost']),
    cert('other-ca-server', 'other-ca', ['subjectAltName=IP:127.0.0.1,DNS:localhost']),
    cert('other-host-server', 'test-ca', ['subjectAltName=DNS:redis.other.example']),
    cert('client', 'test-ca', ['extendedKeyUsage=clientAuth']),
  ]);
  const pair = (name: string) => ({ cert: f(`${name}.crt`), key: f(`${name}.key`) });
  return {
    dir,
    ca: f('test-ca.crt'),
    otherCa: f('other-ca.crt'),
    server: pair('server'),
    otherCaServer: pair('other-ca-server'),
    otherHostServer: pair('other-host-server'),
    client: pair('client'),
    cleanup,
  };
}

/**
 * redis-server's arguments to listen on `port` with TLS only (`--port 0`), showing `cert` and
 * checking client certificates against `ca` as `authClients` says.
 */
function tlsListen(
  port: number,
  tls: { cert: CertFiles; ca: string },
  authClients: 'no' | 'optional' | 'yes' = 'no',
): string[] {
  return [
    ...['--port', '0', '--tls-port', String(port)],
    ...['--tls-cert-file', tls.cert.cert, '--tls-key-file', tls.cert.key, '--tls-ca-cert-file', tls.ca],
    ...['--tls-auth-clients', authClients],
  ];
}

/** A TLS-only redis-server (`--port 0`) showing `cert`, checking client certificates against `ca`. */
export async function startTlsRedis(
  cert: CertFiles,
  ca: string,
  authClients: 'no' | 'optional' | 'yes',
): Promise<TestRedis> {
  const port = await freePort();
  const server = await spawnRedis(port, tlsListen(port, { cert, ca }, authClients));
  return { ...server, url: `rediss://127.0.0.1:${port}` };
}

// ---------------------------------------------------------------------------------------------
// Cluster

/** A Redis Cluster of the test's own on loopback ports. */
export interface TestCluster {
  /** REDIS_URL for the service: every master as a seed node. */
  seeds: string;
  nodes: TestRedis[];
  /** The master that serves `key`'s slot now. */
  masterFor(key: string): Promise<TestRedis>;
  /** Sends one command to every node still running (e.g. SCRIPT FLUSH). */
  onEveryNode(...command: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** How `startCluster` builds its cluster. */
export interface ClusterOptions {
  masters?: number;
  /** Replicas per master (0 or 1). */
  replicas?: number;
  nodeTimeoutMs?: number;
  /** TLS only, between the nodes too (`tls-cluster`, `tls-replication`): the servers' certificate and CA. */
  tls?: { cert: CertFiles; ca: string };
}

/**
 * Starts `masters` masters with `replicas` replica each, joined with `redis-cli --cluster
 * create`; resolves once every node says `cluster_state:ok` and every replica has synced. A
 * killed master is replaced by its replica after about `nodeTimeoutMs` twice (detection, then
 * election).
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const { masters = 3, replicas = 1, nodeTimeoutMs = 500, tls } = options;
  const { dir, cleanup } = scratch('cluster');
  const count = masters * (1 + replicas);
  const ports = await freePorts(count * 2);
  const tlsArgs = (port: number) =>
    tls
      ? [...tlsListen(port, tls), '--tls-cluster', 'yes', '--tls-replication', 'yes']
      : ['--port', String(port)];
  const nodes = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const port = ports[i] as number;
      return spawnRedis(port, [
        ...tlsArgs(port),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(dir, `nodes-${port}.conf`),
        // The bus port is port + 10000 by default, which may be past 65535 for an ephemeral port.
        '--cluster-port',
        String(ports[count + i]),
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        // A replica may take over however long ago it heard from its master, and it syncs at
        // once (the diskless sync otherwise waits 5 s for more replicas).
        '--cluster-replica-validity-factor',
        '0',
        '--repl-diskless-sync-delay',
        '0',
        '--dir',
        dir,
      ]);
    }),
  );
  const adminTls = tls ? { ca: readFileSync(tls.ca) } : undefined;
  const clients = new Map(nodes.map((n) => [n.port, admin(n.port, adminTls)]));
  const ask = (port: number) => clients.get(port) as RedisClient;
  // The first `masters` addresses become masters, the others their replicas.
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
    ...(tls ? ['--tls', '--cacert', tls.ca] : []),
  ]);
  await until('the cluster to be ok on every node, replicas synced', 10_000, async () => {
    for (const n of nodes) {
      if (!(await ask(n.port).cluster('INFO')).includes('cluster_state:ok')) return false;
      const replication = await ask(n.port).info('replication');
      if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
    }
    return true;
  });
  const alive = () => nodes.find((n) => ask(n.port).status === 'ready') as TestRedis;
  return {
    seeds: nodes
      .slice(0, masters)
      .map((n) => `${tls ? 'rediss' : 'redis'}://127.0.0.1:${n.port}`)
      .join(','),
    nodes,
    masterFor: async (key) => {
      const client = ask(alive().port);
      const slot = await client.cluster('KEYSLOT', key);
      const ranges = await client.cluster('SLOTS');
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const port = range?.[2]?.[1];
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no master serves slot ${slot}`);
      return node;
    },
    onEveryNode: async (...[name, ...args]) => {
      const live = nodes.filter((n) => ask(n.port).status === 'ready');
      await Promise.all(live.map((n) => ask(n.port).call(name as string, ...args)));
    },
    stop: async () => {
      for (const c of clients.values()) c.disconnect();
      await Promise.all(nodes.map((n) => n.stop()));
      cleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Sentinel

/** One master, one replica and one Sentinel watching them, all of the test's own. */
export interface TestSentinel {
  name: string;
  master: TestRedis;
  replica: TestRedis;
  sentinel: TestRedis;
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for the service. */
  env: Record<string, string>;
  /** The address Sentinel gives for the master now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts a master, its replica (synced), then a Sentinel with quorum 1 that knows both. After the
 * master dies, the replica is promoted about `downAfterMs` plus up to a second later.
 */
export async function startSentinel(
  downAfterMs = 500,
  failoverTimeoutMs = 2000,
  /** TLS everywhere (clients, replication, Sentinel's own connections), with `cert` signed by `ca`. */
  tls?: { cert: CertFiles; ca: string },
): Promise<TestSentinel> {
  const { dir, cleanup } = scratch('sentinel');
  const [mp, rp, sp] = (await freePorts(3)) as [number, number, number];
  const name = 'mymaster';
  const listen = (port: number) =>
    tls ? [...tlsListen(port, tls), '--tls-replication', 'yes'] : ['--port', String(port)];
  // The replica writes the RDB it receives to its folder: the suite's, not the working directory.
  const sync = ['--repl-diskless-sync-delay', '0', '--dir', dir];
  const master = await spawnRedis(mp, [...listen(mp), ...sync]);
  const replica = await spawnRedis(rp, [...listen(rp), '--replicaof', '127.0.0.1', String(mp), ...sync]);
  const adminTls = tls ? { ca: readFileSync(tls.ca) } : undefined;
  const replicaAdmin = admin(rp, adminTls);
  await until('the replica to sync', 5000, async () =>
    (await replicaAdmin.info('replication')).includes('master_link_status:up'),
  );
  replicaAdmin.disconnect();
  // Sentinel rewrites its config file, so it gets one of its own.
  const conf = path.join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${mp} 1`,
      `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
      `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
      '',
    ].join('\n'),
  );
  // Its port and TLS as the nodes get them; Sentinel's own connections to them use TLS too.
  const sentinel = await spawnRedis(sp, [conf, '--sentinel', ...listen(sp)], []);
  const sentinelAdmin = admin(sp, adminTls);
  await until('Sentinel to know the replica', 5000, async () => {
    const replicas = (await sentinelAdmin.call('SENTINEL', 'REPLICAS', name)) as string[][];
    return replicas.some((r) => {
      const fields = Object.fromEntries(r.flatMap((v, i) => (i % 2 ? [] : [[v, r[i + 1]]])));
      return fields.port === String(rp) && fields.flags === 'slave';
    });
  });
  return {
    name,
    master,
    replica,
    sentinel,
    // With TLS, REDIS_URL names the data nodes' scheme (their address comes from Sentinel).
    env: {
      REDIS_SENTINELS: `127.0.0.1:${sp}`,
      REDIS_SENTINEL_NAME: name,
      ...(tls ? { REDIS_URL: 'rediss://127.0.0.1' } : {}),
    },
    masterPort: async () =>
      Number(((await sentinelAdmin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]),
    stop: async () => {
      sentinelAdmin.disconnect();
      await Promise.all([sentinel.stop(), replica.stop(), master.stop()]);
      cleanup();
    },
  };
}
