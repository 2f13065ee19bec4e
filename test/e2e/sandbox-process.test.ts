import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

const SANDBOX_MAIN = path.resolve(import.meta.dirname, '../../dist/sandbox/main.js');

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
});
