import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { audio, filesIn, startFakeUpstream, TEST_KEY, tempDir, truedy429 } from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';
import { startServiceProcess } from '../helpers/process.js';

describe('SIGTERM', () => {
  it('drains: readyz 503 at once, the in-flight upload finishes, no spooled file is left, exit 0', async () => {
    // The first upstream answer is a 429 with a 600 ms reset, so the clone is still in flight when SIGTERM arrives.
    const fake = await startFakeUpstream([truedy429(600)]);
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
      while (fake.received.length === 0) await new Promise((r) => setTimeout(r, 5));
      svc.proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const ready = await fetch(`${svc.url}/readyz`).catch(() => undefined);
      // Either the listener already refuses new connections, or it answers 503 while it drains.
      if (ready) expect(ready.status).toBe(503);
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
});
