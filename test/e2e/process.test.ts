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
      expect(ready).toEqual({ status: 'ready', upstream: 'sandbox', redis: 'disabled' });
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
