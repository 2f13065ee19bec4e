import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import os from 'node:os';
import { promisify } from 'node:util';
import { expect } from '@jest/globals';
import { canConnect, freePort } from './net.js';
import { suiteResource } from './suite.js';

/** `execFile` as a promise: stdout and stderr of a command that must succeed. */
export const run = promisify(execFile);

/**
 * Polls `probe` every 20 ms until it returns something other than undefined or false, and returns
 * that; fails naming `what` once `timeoutMs` has passed. A probe that throws counts as "not yet".
 */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A real redis-server of the test's own on 127.0.0.1, which the test may stop and start again. */
export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Is redis-server on the PATH? Tests fail (not skip) without it: `.ci/run` installs it. */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** Throws, naming how to install them, when redis-server or redis-cli is missing from PATH. */
export function requireRedis(): void {
  if (!haveRedis() || spawnSync('redis-cli', ['--version']).status !== 0)
    throw new Error('redis-server / redis-cli are not on PATH (apt-get install redis-server; .ci/run does)');
}

/** Options every test server gets: loopback only, nothing written to disk. */
const EPHEMERAL = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/**
 * Starts `redis-server` from PATH listening on `port` (plain or TLS) with `args` and `defaults`
 * (loopback only, no persistence); resolves once the port accepts connections. `stop` kills
 * it (SIGKILL, as a crash would) and waits for the exit; `start` starts it again.
 */
export async function spawnRedis(port: number, args: string[], defaults = EPHEMERAL): Promise<TestRedis> {
  requireRedis();
  let proc: ChildProcess | undefined;
  const start = async () => {
    // A stray file (a replica's RDB) lands in the temp folder, never in the repository.
    const p = spawn('redis-server', [...args, ...defaults], { stdio: 'ignore', cwd: os.tmpdir() });
    proc = p;
    const exited = new Promise<never>((_, reject) =>
      p.once('exit', (code) => reject(new Error(`redis-server ${args.join(' ')} exited (${code})`))),
    );
    exited.catch(() => undefined);
    await Promise.race([until(`redis-server on port ${port}`, 5000, () => canConnect(port)), exited]);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: async () => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exit = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exit;
    },
  };
}

/** Starts a plain `redis-server` from PATH on a free port, no persistence. */
export async function startRedis(args: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  return spawnRedis(port, ['--port', String(port), ...args]);
}

/**
 * The suite's shared Redis: the one `.ci/run` started (TEST_REDIS_URL), else one of the test's own.
 * Only tests that never stop Redis use it.
 */
export async function sharedRedis(): Promise<TestRedis> {
  const url = process.env.TEST_REDIS_URL;
  if (!url) return startRedis();
  return {
    url,
    port: Number(new URL(url).port),
    start: async () => undefined,
    stop: async () => undefined,
  };
}

/** A Redis for a describe block: `start` (a plain one of its own unless said) before its tests, stopped after them. */
export function suiteRedis(start: () => Promise<TestRedis> = startRedis): () => TestRedis {
  return suiteResource(start, (redis) => redis.stop());
}

/**
 * Emits two errors on each socket, as a refused TLS connection can (the certificate, then the
 * server's alert), and expects neither to throw: ioredis listens for a socket's first error only
 * (its issue #1183), and a second error without a listener is thrown by Node as uncaught.
 */
export function expectSocketsSurviveTwoErrors(sockets: EventEmitter[]): void {
  for (const socket of sockets) {
    expect(() => {
      socket.emit('error', new Error('certificate refused'));
      socket.emit('error', new Error('tlsv1 alert decode error'));
    }).not.toThrow();
  }
}
