import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { audio } from '../helpers/kit.js';
import { runToExit, startServiceProcess } from '../helpers/process.js';

describe('the service as a process (npm start)', () => {
  it('without a key it runs on the sandbox, says so loudly, clones, and exits 0 on SIGTERM', async () => {
    const svc = await startServiceProcess({ NODE_ENV: 'development' });
    try {
      expect(svc.lines.some((l) => l.includes('"level":40') && l.includes('SANDBOX'))).toBe(true);
      const ready = await (await fetch(`${svc.url}/readyz`)).json();
      expect(ready).toEqual({ status: 'ready', upstream: 'sandbox', redis: 'disabled', auth: 'disabled' });
      const form = new FormData();
      form.append('name', 'Test');
      form.append('files', new Blob([readFileSync(audio('sample.mp3'))]), 'sample.mp3');
      const res = await fetch(`${svc.url}/api/voices/clone`, { method: 'POST', body: form });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { data: { name: string } }).data.name).toBe('Test');
    } finally {
      expect(await svc.stop('SIGTERM')).toBe(0);
    }
  });

  it('in production without a key it exits non-zero with a one-line reason', async () => {
    const { code, stderr } = await runToExit({ NODE_ENV: 'production' });
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('TRUEDY_API_KEY');
  });

  it('a value that does not parse stops start-up naming the variable', async () => {
    const { code, stderr } = await runToExit({ MAX_FILES: 'abc' });
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/MAX_FILES/);
  });
});

describe('slow clients', () => {
  it('a client that never finishes its headers is cut off after HEADERS_TIMEOUT_MS', async () => {
    const { connect } = await import('node:net');
    const svc = await startServiceProcess({ NODE_ENV: 'development', HEADERS_TIMEOUT_MS: '300' });
    try {
      const { port } = new URL(svc.url);
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        let got = '';
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.write('POST /api/voices/clone HTTP/1.1\r\nHost: x\r\n'),
        );
        socket.on('data', (c) => {
          got += String(c);
        });
        socket.on('close', () => resolve(got));
        socket.on('error', () => undefined);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await svc.stop();
    }
  });
});

describe('npm run sandbox', () => {
  it('runs the fake Truedy alone and says so in its start-up line', async () => {
    const { spawn } = await import('node:child_process');
    const path = await import('node:path');
    const proc = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../dist/sandbox/main.js')], {
      env: { PATH: process.env.PATH ?? '', SANDBOX_PORT: '0', SANDBOX_API_KEY: 'sbx_key_0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve) =>
        proc.stdout.once('data', (c: Buffer) => resolve(String(c))),
      );
      expect(line).toContain('sandbox');
      const url = (JSON.parse(line) as { url: string }).url;
      const res = await fetch(`${url}/voices/clone`, {
        method: 'POST',
        headers: { authorization: 'Bearer sbx_key_0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'Alone',
          files: [{ filename: 'a.mp3', data: 'AAAA', content_type: 'audio/mpeg' }],
        }),
      });
      expect(res.status).toBe(201);
      const bad = await fetch(`${url}/voices/clone`, {
        method: 'POST',
        headers: { authorization: 'Bearer sbx_key_0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Bad', files: [{ filename: 'a.mp3', data: 'not base64!' }] }),
      });
      expect(bad.status).toBe(422);
      const noKey = await fetch(`${url}/voices/clone`, { method: 'POST' });
      expect(noKey.status).toBe(401);
    } finally {
      proc.kill('SIGTERM');
    }
  });
});

describe('UPLOAD_DIR', () => {
  it('is created when missing and taken away by a clean exit; one that cannot be used stops start-up', async () => {
    const { mkdtempSync, existsSync, readdirSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const base = mkdtempSync(path.join(os.tmpdir(), 'bff-updir-'));
    const fresh = path.join(base, 'nested', 'spool');
    const svc = await startServiceProcess({ UPLOAD_DIR: fresh });
    expect(existsSync(fresh)).toBe(true);
    expect(await svc.stop()).toBe(0);
    // SPEC "Privacy of uploads": a clean exit leaves UPLOAD_DIR as it found it.
    expect(readdirSync(base)).toEqual([]);

    const aFile = path.join(base, 'not-a-dir');
    writeFileSync(aFile, 'x');
    const { code, stderr } = await runToExit({ UPLOAD_DIR: path.join(aFile, 'spool') });
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/UPLOAD_DIR/);
  });
});
