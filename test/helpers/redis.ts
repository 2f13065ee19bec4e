import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A real redis-server of the test's own on 127.0.0.1, which the test may stop and start again. */
export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Is redis-server on the PATH? Tests fail (not skip) without it: `.ci/run` installs it. */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** Starts `redis-server` from PATH on a free port, no persistence. */
export async function startRedis(): Promise<TestRedis> {
  if (!haveRedis())
    throw new Error('redis-server is not on PATH (apt-get install redis-server; .ci/run does)');
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('redis-server did not start');
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop: async () => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
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
    start: async () => undefined,
    stop: async () => undefined,
  };
}
