import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { audio, filesIn, TEST_KEY, tempDir } from '../helpers/fixtures.js';
import { multipart } from '../helpers/multipart.js';
import { startServiceProcess } from '../helpers/process.js';
import { deferred, waitUntil } from '../helpers/wait.js';

/** What readyz says now: its status, or 0 once the listener refuses connections. */
async function readiness(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`).catch(() => undefined);
  return res?.status ?? 0;
}

describe('SIGTERM', () => {
  it('drains: readyz 503 at once, the in-flight upload finishes, no spooled file is left, exit 0', async () => {
    // Truedy's answer is held until the test lets it go, so the clone is in flight when SIGTERM arrives.
    const release = deferred();
    const fake = await startFakeUpstream([{ until: release.promise }]);
    const uploadDir = tempDir();
    const svc = await startServiceProcess({
      TRUEDY_API_KEY: TEST_KEY,
      TRUEDY_BASE_URL: fake.url,
      UPLOAD_DIR: uploadDir,
      UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
      // The spool is what must not outlive the drain: the small fixture goes to disk, not memory.
      MEMORY_BUFFER_FILE_BYTES: '0',
    });
    try {
      const { body, contentType } = multipart([
        { field: 'name', value: 'Draining' },
        { field: 'files', filename: 'a.mp3', data: readFileSync(audio('sample.mp3')) },
      ]);
      const url = new URL('/api/voices/clone', svc.url);
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(url, { method: 'POST', headers: { 'content-type': contentType } }, (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      await fake.waitForRequests(1);
      svc.proc.kill('SIGTERM');
      // Either the listener already refuses new connections, or it answers 503 while it drains.
      let ready = 200;
      await waitUntil('readyz to stop answering 200', async () => {
        ready = await readiness(svc.url);
        return ready !== 200;
      });
      expect([0, 503]).toContain(ready);
      // And the process waits for the clone still in flight.
      expect([svc.proc.exitCode, svc.proc.signalCode]).toEqual([null, null]);

      release.resolve();
      const done = await answer;
      expect(done.status).toBe(201);
      expect(JSON.parse(done.body).data.name).toBe('Draining');
      expect(await svc.exited).toBe(0);
      expect(filesIn(uploadDir)).toEqual([]);
      expect(svc.lines.some((l) => l.includes('draining'))).toBe(true);
    } finally {
      svc.proc.kill('SIGKILL');
      await fake.close();
    }
  });

  it('waits for a clone whose client left once Truedy had it: its outcome is audited, then exit 0', async () => {
    const release = deferred();
    const fake = await startFakeUpstream([{ until: release.promise }]);
    const auditLog = path.join(tempDir(), 'audit.log');
    const svc = await startServiceProcess({
      TRUEDY_API_KEY: TEST_KEY,
      TRUEDY_BASE_URL: fake.url,
      UPLOAD_DIR: tempDir(),
      UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
      AUDIT_LOG: auditLog,
    });
    try {
      const { body, contentType } = multipart([
        { field: 'name', value: 'Left' },
        { field: 'files', filename: 'a.mp3', data: readFileSync(audio('sample.mp3')) },
      ]);
      const req = request(new URL('/api/voices/clone', svc.url), {
        method: 'POST',
        headers: { 'content-type': contentType },
      });
      req.on('error', () => undefined);
      req.end(body);
      await fake.waitForRequests(1);
      req.destroy(); // the client leaves; Truedy has the whole request
      await waitUntil('the request to end for its client', () =>
        svc.lines.some((l) => l.includes('"status":499')),
      );
      svc.proc.kill('SIGTERM');
      await waitUntil('the drain to wait for it', () =>
        svc.lines.some((l) => l.includes('waiting for requests with no client left')),
      );
      expect([svc.proc.exitCode, svc.proc.signalCode]).toEqual([null, null]);
      release.resolve();
      expect(await svc.exited).toBe(0);
      const outcome = readFileSync(auditLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => e.event === 'clone_outcome');
      expect(outcome).toMatchObject({ status: 201, voice_id: expect.any(String) });
    } finally {
      svc.proc.kill('SIGKILL');
      await fake.close();
    }
  });

  it('exits 0 when its log reader went away during the drain (a log shipper that died)', async () => {
    // Sandbox mode: no upstream needed. A half-sent upload keeps the drain open until the reader is gone.
    const svc = await startServiceProcess({ UPLOAD_DIR: tempDir() });
    const socket = connect(Number(new URL(svc.url).port), '127.0.0.1');
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
          'Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n',
      );
      // Its 100 Continue: the service has the request and is waiting for its body.
      await new Promise((resolve) => socket.once('data', resolve));
      socket.write('--b\r\n');
      svc.proc.kill('SIGTERM');
      await waitUntil('the drain to start', () => svc.lines.some((l) => l.includes('draining')));
      // The reader goes; the lines the drain still writes (this request's, "stopped") find no one.
      svc.proc.stdout?.destroy();
      socket.destroy();
      // It used to hang here for ever: pino's exit hook retried the failed write without end.
      expect(await svc.exited).toBe(0);
    } finally {
      socket.destroy();
      svc.proc.kill('SIGKILL');
    }
  });

  it('exits 0 at once when its log reader went away long before SIGTERM', async () => {
    const svc = await startServiceProcess({ UPLOAD_DIR: tempDir() });
    try {
      svc.proc.stdout?.destroy();
      // Lines written after the reader went: pino meets EPIPE and stops writing (end() included).
      for (let i = 0; i < 3; i++) expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
      svc.proc.kill('SIGTERM');
      // It used to wait out SHUTDOWN_TIMEOUT_MS (30 s) for a close the log would never send.
      expect(await svc.exited).toBe(0);
    } finally {
      svc.proc.kill('SIGKILL');
    }
  });
});
