import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { type AuditEntry, createFileAuditTrail, type OpenAuditFile } from '../../src/audit/audit-trail.js';
import { systemClock } from '../../src/clock.js';
import { tempDir } from '../helpers/kit.js';

const entry = (request_id: string): AuditEntry => ({
  event: 'clone_requested',
  request_id,
  caller: { kind: 'ip', id: 'ip:127.0.0.1', person: null },
  voice_name: 'n',
  files: [],
  consent: null,
  status: null,
  code: null,
  voice_id: null,
  upstream_request_id: null,
  attempts: null,
});

describe('the file audit trail', () => {
  it('a write cut short by a full disk leaves its piece on a line of its own: the next entry stays whole', async () => {
    const file = path.join(tempDir(), 'audit.log');
    let cut = true;
    // The first append gets half its bytes onto the disk, then the disk is full.
    const halfFull: OpenAuditFile = async (p) => {
      const h = await open(p, 'a', 0o600);
      return {
        appendFile: async (data) => {
          if (!cut) return h.appendFile(data);
          cut = false;
          await h.appendFile(data.slice(0, data.length / 2));
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        },
        datasync: () => h.datasync(),
        close: () => h.close(),
      };
    };
    const trail = createFileAuditTrail(file, systemClock, halfFull);
    await expect(trail.write(entry('req_1'))).rejects.toMatchObject({ code: 'audit_unavailable' });
    await trail.write(entry('req_2'));
    await trail.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(() => JSON.parse(lines[0] as string)).toThrow();
    expect(JSON.parse(lines[1] as string)).toMatchObject({ request_id: 'req_2', time: expect.any(String) });
    expect(lines[2]).toBe('');
  });
});
