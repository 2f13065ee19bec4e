import { describe, expect, it } from '@jest/globals';
import { startServiceProcess } from '../helpers/process.js';
import { rawConnect } from '../helpers/raw-client.js';

describe('slow clients (HEADERS_TIMEOUT_MS, set on the server by main.ts)', () => {
  // The bound is Node's own timer on the wall clock: real time, 300 ms.
  it('a client that never finishes its headers is cut off after HEADERS_TIMEOUT_MS', async () => {
    const svc = await startServiceProcess({ NODE_ENV: 'development', HEADERS_TIMEOUT_MS: '300' });
    try {
      const client = await rawConnect(svc.url);
      await client.write('POST /api/voices/clone HTTP/1.1\r\nHost: x\r\n');
      const end = await client.closed;
      expect(end.text).toMatch(/^HTTP\/1\.1 408/);
      expect(end.afterMs).toBeLessThan(3000);
    } finally {
      await svc.stop();
    }
  });
});
