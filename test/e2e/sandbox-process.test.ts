import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

const SANDBOX_MAIN = path.resolve(import.meta.dirname, '../../dist/sandbox/main.js');

/** Starts the sandbox entry with `env`, collecting what it writes. */
function start(env: Record<string, string>) {
  const proc = spawn(process.execPath, [SANDBOX_MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (c: Buffer) => {
    out.stdout += String(c);
  });
  proc.stderr.on('data', (c: Buffer) => {
    out.stderr += String(c);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, out, exited };
}

/** Resolves once the sandbox's stdout holds `text`. */
async function logged(out: { stdout: string }, text: string): Promise<void> {
  while (!out.stdout.includes(text)) await new Promise((r) => setTimeout(r, 20));
}

/** The URL its start-up line names, once it is listening. */
async function listeningUrl(out: { stdout: string }): Promise<string> {
  await logged(out, 'listening');
  return (JSON.parse(out.stdout.split('\n')[0] ?? '') as { url: string }).url;
}

/** The `msg` of each log line. */
const messagesOf = (stdout: string): string[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { msg: string }).msg);

describe('npm run sandbox', () => {
  it('runs the fake Truedy alone and says so in its start-up line', async () => {
    const proc = spawn(process.execPath, [SANDBOX_MAIN], {
      env: { PATH: process.env.PATH ?? '', SANDBOX_PORT: '0', SANDBOX_API_KEY: 'sbx_key_0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve) =>
        proc.stdout.once('data', (c: Buffer) => resolve(String(c))),
      );
      expect(line).toContain('sandbox');
      const url = (JSON.parse(line) as { url: string }).url;
      const clone = (body: unknown) =>
        fetch(`${url}/voices/clone`, {
          method: 'POST',
          headers: { authorization: 'Bearer sbx_key_0123456789', 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const ok = await clone({
        name: 'Alone',
        files: [{ filename: 'a.mp3', data: 'AAAA', content_type: 'audio/mpeg' }],
      });
      expect(ok.status).toBe(201);
      const bad = await clone({ name: 'Bad', files: [{ filename: 'a.mp3', data: 'not base64!' }] });
      expect(bad.status).toBe(422);
      const noKey = await fetch(`${url}/voices/clone`, { method: 'POST' });
      expect(noKey.status).toBe(401);
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('logs its stop on SIGTERM and exits 0, with a connection kept alive', async () => {
    const { proc, out, exited } = start({ SANDBOX_PORT: '0', SANDBOX_API_KEY: 'sbx_key_0123456789' });
    try {
      const url = await listeningUrl(out);
      // A keep-alive connection left open must not hold the stop up.
      const res = await fetch(`${url}/voices/clone`, { method: 'POST' });
      expect(res.status).toBe(401);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      const messages = messagesOf(out.stdout);
      expect(messages).toEqual(expect.arrayContaining(['Truedy sandbox stopping', 'Truedy sandbox stopped']));
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('waits for a call in flight on SIGTERM, and a second signal closes it at once', async () => {
    const { proc, out, exited } = start({ SANDBOX_PORT: '0' });
    const socket = new Socket();
    try {
      const { port } = new URL(await listeningUrl(out));
      // A request whose headers never end: a call in flight that the grace waits for.
      await new Promise<void>((r) => socket.connect(Number(port), '127.0.0.1', r));
      socket.write('POST /voices/clone HTTP/1.1\r\nHost: x\r\n');
      socket.on('error', () => undefined);
      proc.kill('SIGTERM');
      await logged(out, 'stopping');
      await new Promise((r) => setTimeout(r, 200));
      expect(proc.exitCode).toBeNull();
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
      const messages = messagesOf(out.stdout);
      expect(messages.filter((m) => m === 'Truedy sandbox stopping')).toHaveLength(1);
      expect(messages.at(-1)).toBe('Truedy sandbox stopped');
    } finally {
      socket.destroy();
      proc.kill('SIGKILL');
    }
  });

  it('refuses a SANDBOX_PORT that is not a port, with one line and exit 1', async () => {
    for (const bad of ['4010x', '70000', '-1', '0x10']) {
      const { out, exited } = start({ SANDBOX_PORT: bad });
      expect(await exited).toBe(1);
      expect(out.stderr).toContain('SANDBOX_PORT must be a port number');
      expect(out.stderr).not.toContain('    at ');
    }
  });

  it('refuses an unknown LOG_LEVEL the same way', async () => {
    const { out, exited } = start({ SANDBOX_PORT: '0', LOG_LEVEL: 'verbose' });
    expect(await exited).toBe(1);
    expect(out.stderr).toContain('LOG_LEVEL must be');
  });

  it('names the cause when its port is taken, and exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const { port } = taken.address() as { port: number };
      const { out, exited } = start({ SANDBOX_PORT: String(port) });
      expect(await exited).toBe(1);
      const line = JSON.parse(out.stdout.trim()) as { msg: string; err: { code: string } };
      expect(line.err.code).toBe('EADDRINUSE');
      expect(line.msg).toContain(`could not listen on 127.0.0.1:${port}`);
    } finally {
      taken.close();
    }
  });
});
