import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLONE_PATH, cloneForm } from '../helpers/clone-request.js';
import { runToExit, type ServiceProcess, startServiceProcess } from '../helpers/process.js';
import { sharedRedis, suiteRedis } from '../helpers/redis.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'bff-updir-'));

describe('the service as a process (npm start)', () => {
  // One process for every check a running service answers (fewer spawns); it is stopped last.
  const spool = path.join(base, 'nested', 'spool');
  let svc: ServiceProcess;
  beforeAll(async () => {
    svc = await startServiceProcess({ NODE_ENV: 'development', UPLOAD_DIR: spool });
  });
  afterAll(() => svc.stop('SIGKILL'));

  it('without a key it runs on the sandbox, says so loudly, and clones', async () => {
    expect(svc.lines.some((l) => l.includes('"level":40') && l.includes('SANDBOX'))).toBe(true);
    const ready = await (await fetch(`${svc.url}/readyz`)).json();
    expect(ready).toEqual({ status: 'ready', upstream: 'sandbox', redis: 'disabled', auth: 'disabled' });
    const res = await fetch(`${svc.url}${CLONE_PATH}`, { method: 'POST', body: cloneForm({ name: 'Test' }) });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { data: { name: string } }).data.name).toBe('Test');
  });

  it('creates UPLOAD_DIR when it is missing', () => {
    expect(existsSync(spool)).toBe(true);
  });

  it('exits 0 on SIGTERM, leaving UPLOAD_DIR as it found it', async () => {
    expect(await svc.stop('SIGTERM')).toBe(0);
    // SPEC "Privacy of uploads": what the process created of UPLOAD_DIR goes with a clean exit.
    expect(readdirSync(base).filter((f) => f !== 'not-a-dir')).toEqual([]);
  });
});

describe('configuration that stops start-up with a one-line reason', () => {
  // Started together: each is a process that reads its config and exits.
  const aFile = path.join(base, 'not-a-dir');
  // Its own UPLOAD_DIR: a start-up that fails once the process's spool folder is made leaves none.
  const trustDir = path.join(base, 'trust');
  let exits: Record<'production' | 'unparsable' | 'uploadDir' | 'trustProxy', ReturnType<typeof runToExit>>;
  beforeAll(() => {
    writeFileSync(aFile, 'x');
    mkdirSync(trustDir);
    exits = {
      production: runToExit({ NODE_ENV: 'production' }),
      unparsable: runToExit({ MAX_FILES: 'abc' }),
      uploadDir: runToExit({ UPLOAD_DIR: path.join(aFile, 'spool') }),
      trustProxy: runToExit({ TRUST_PROXY: 'yes', UPLOAD_DIR: trustDir }),
    };
  });

  it('in production without a key it exits non-zero with a one-line reason', async () => {
    const { code, stderr } = await exits.production;
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('TRUEDY_API_KEY');
  });

  it('a value that does not parse stops start-up naming the variable', async () => {
    const { code, stderr } = await exits.unparsable;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/MAX_FILES/);
  });

  it('an UPLOAD_DIR that cannot be used stops start-up naming the variable', async () => {
    const { code, stderr } = await exits.uploadDir;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/UPLOAD_DIR/);
  });

  it('a TRUST_PROXY Express cannot compile stops start-up naming it, and leaves no spool folder', async () => {
    const { code, stderr } = await exits.trustProxy;
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/TRUST_PROXY: must be true, false/);
    expect(readdirSync(trustDir)).toEqual([]);
  });
});

describe('createService failing once its Redis client exists (an embedder or a test calls it)', () => {
  const redis = suiteRedis(sharedRedis);
  const root = path.resolve(import.meta.dirname, '../..');
  // Builds the service from dist/ with a TRUST_PROXY Express refuses, reports the error, and
  // returns: nothing else is open, so the process exits by itself unless a Redis client is left.
  const script = `
    const { loadConfig } = await import('./dist/config/config.js');
    const { createService } = await import('./dist/service.js');
    const { pino } = await import('pino');
    try {
      createService(loadConfig(process.env), { logger: pino({ level: 'silent' }) });
    } catch (error) {
      process.stdout.write(error.message);
    }`;

  it('closes that client: the process still exits by itself', async () => {
    const dir = mkdtempSync(path.join(base, 'redis-'));
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        TRUEDY_API_KEY: 'k_test',
        REDIS_URL: redis().url,
        TRUST_PROXY: 'yes',
        UPLOAD_DIR: dir,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += String(c);
    });
    // A bound, not a measurement: without the fix the client reconnects forever and this fires.
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(kill);
    expect(out).toMatch(/TRUST_PROXY: must be true, false/);
    expect(code).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);
});
