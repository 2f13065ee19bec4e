import { describe, expect, it } from '@jest/globals';
import { tempDir } from '../helpers/fixtures.js';
import { startServiceProcess } from '../helpers/process.js';
import { waitUntil } from '../helpers/wait.js';

/** A GET's status, its body read. */
async function get(url: string): Promise<number> {
  const res = await fetch(url);
  await res.text();
  return res.status;
}

/** log_lines_dropped_total as /metrics shows it now. */
async function dropped(url: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  return Number(/^log_lines_dropped_total (\S+)$/m.exec(body)?.[1]);
}

describe('a log reader that stalls', () => {
  it('costs log lines, counted on /metrics, not memory without bound; the service keeps answering', async () => {
    const svc = await startServiceProcess({ UPLOAD_DIR: tempDir(), LOG_BUFFER_BYTES: '65536' });
    try {
      expect(await dropped(svc.url)).toBe(0);
      // The test stops reading the service's stdout: the pipe fills, then the 64 KiB bound.
      svc.proc.stdout?.pause();
      let sent = 0;
      // Each request is one log line of about 300 bytes; a few thousand overflow pipe and bound.
      while ((await dropped(svc.url)) === 0) {
        expect(sent).toBeLessThan(20_000);
        for (let i = 0; i < 4; i++)
          await Promise.all(Array.from({ length: 32 }, () => get(`${svc.url}/healthz`)));
        sent += 128;
      }
      expect(await get(`${svc.url}/healthz`)).toBe(200);
      // The reader comes back: the lines held come through, and new ones follow them once there
      // is room again (a line logged while the bound is still full is dropped too, so ask again).
      const before = svc.lines.length;
      svc.proc.stdout?.resume();
      await waitUntil('the held lines and a new one to arrive', async () => {
        await get(`${svc.url}/readyz`);
        return svc.lines.slice(before).some((l) => l.includes('"route":"/readyz"'));
      });
      expect(svc.lines.length - before).toBeGreaterThan(100);
    } finally {
      svc.proc.kill('SIGKILL');
    }
  });
});
