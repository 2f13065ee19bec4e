import { readFileSync, renameSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { auditFilePath, readAuditFile } from '../helpers/audit-file.js';
import { audio, listen, tempDir } from '../helpers/kit.js';
import { runToExit, startServiceProcess } from '../helpers/process.js';

const MP3 = readFileSync(audio('sample.mp3'));

/** The audit file's entries: [event, request id, status]. */
const entries = (file: string) => readAuditFile(file).map((e) => [e.event, e.request_id, e.status]);

function clone(url: string, name: string) {
  const form = new FormData();
  form.append('name', name);
  form.append('files', new Blob([MP3]), 'sample.mp3');
  return fetch(`${url}/api/voices/clone`, { method: 'POST', body: form });
}

/** Resolves once the process has logged a line containing `text`, or fails after 5 s. */
async function logged(lines: string[], text: string) {
  const until = Date.now() + 5000;
  while (!lines.some((l) => l.includes(text))) {
    if (Date.now() > until) throw new Error(`not logged within 5 s: ${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the audit trail of the service as a process', () => {
  it('SIGKILLed right after answering 201, both entries of that clone are on disk', async () => {
    const file = auditFilePath();
    const svc = await startServiceProcess({ NODE_ENV: 'development', AUDIT_LOG: file });
    let requestId = '';
    try {
      const res = await clone(svc.url, 'Killed after');
      // Killed the moment the answer's head is here: nothing after it may be needed for the trail.
      if (res.status === 201) svc.proc.kill('SIGKILL');
      expect(res.status).toBe(201);
      requestId = res.headers.get('x-request-id') ?? '';
    } finally {
      svc.proc.kill('SIGKILL');
      await svc.exited;
    }
    expect(entries(file)).toEqual([
      ['clone_requested', requestId, null],
      ['clone_outcome', requestId, 201],
    ]);
  });

  it('SIGHUP (logrotate): entries after it go to a new file at AUDIT_LOG, those before stay in the renamed one', async () => {
    const file = auditFilePath();
    const svc = await startServiceProcess({ NODE_ENV: 'development', AUDIT_LOG: file });
    try {
      const first = await clone(svc.url, 'Before rotation');
      expect(first.status).toBe(201);
      renameSync(file, `${file}.1`);
      svc.proc.kill('SIGHUP');
      await logged(svc.lines, 'audit log reopened');
      const second = await clone(svc.url, 'After rotation');
      expect(second.status).toBe(201);
      expect(entries(`${file}.1`).map((e) => e[1])).toEqual(Array(2).fill(first.headers.get('x-request-id')));
      expect(entries(file).map((e) => e[1])).toEqual(Array(2).fill(second.headers.get('x-request-id')));
    } finally {
      expect(await svc.stop('SIGTERM')).toBe(0);
    }
  });

  it('an AUDIT_LOG that cannot be opened stops start-up with one line naming it', async () => {
    const { code, stderr } = await runToExit({ NODE_ENV: 'development', AUDIT_LOG: tempDir() });
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('AUDIT_LOG');
  });

  it('a JWKS endpoint unreachable at start-up: the service starts, and /readyz says so', async () => {
    // A port that was just free: nothing answers there.
    const gone = await listen((_req: IncomingMessage, res: ServerResponse) => res.end());
    const jwksUrl = `${gone.url}/jwks.json`;
    await gone.close();
    const svc = await startServiceProcess({
      NODE_ENV: 'development',
      AUTH_JWKS_URL: jwksUrl,
      AUTH_ISSUER: 'https://idp.example.test',
      AUTH_AUDIENCE: 'bff',
    });
    try {
      await logged(svc.lines, 'JWKS endpoint unreachable');
      const ready = await fetch(`${svc.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'unavailable', auth: 'unavailable' });
    } finally {
      expect(await svc.stop('SIGTERM')).toBe(0);
    }
  });
});
