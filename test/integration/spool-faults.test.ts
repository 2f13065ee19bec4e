import { closeSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { OpenWrite } from '../../src/upload/spool-folder.js';
import { audio, buildService, filesIn, suiteFakeUpstream, testConfig } from '../helpers/kit.js';

/**
 * A disk that fills up (or fails) after `capacity` bytes, across all files: each file is really
 * created and written until then, so the test also proves nothing of the upload is left behind.
 */
function faultyDisk(capacity: number, code: 'ENOSPC' | 'EIO'): OpenWrite {
  let used = 0;
  return (file) => {
    const fd = openSync(file, 'wx', 0o600);
    return new Writable({
      write(chunk: Buffer, _enc, done) {
        if (used + chunk.length > capacity) {
          const e = Object.assign(new Error(`${code}: simulated, write`), {
            code,
            errno: -28,
            syscall: 'write',
          });
          return done(e);
        }
        used += chunk.length;
        writeSync(fd, chunk);
        done();
      },
      destroy(error, done) {
        closeSync(fd);
        done(error);
      },
    }) as unknown as ReturnType<OpenWrite>;
  };
}

describe('the spool cannot be written (SPEC 503 insufficient_storage)', () => {
  const fake = suiteFakeUpstream();

  it.each([
    ['ENOSPC', 'the disk is full', 20_000],
    ['EIO', 'the disk fails', 70_000],
  ] as const)(
    '%s (%s): 503 with Retry-After, nothing left behind, nothing upstream, an error logged',
    async (code, _what, capacity) => {
      const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: '0' });
      const { app, log } = buildService(config, fake.url, { openWrite: faultyDisk(capacity, code) });
      const before = fake.received.length;
      const res = await request(app)
        .post('/api/voices/clone')
        .field('name', 'Full disk')
        .attach('files', audio('sample.wav')) // 64 KB: the first file already fails at 20 KB
        .attach('files', audio('sample.flac'));
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.error.code).toBe('insufficient_storage');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(fake.received.length).toBe(before);
      expect(filesIn(config.uploadDir)).toEqual([]);
      const logged = log.lines.find((l) => l.msg === 'the spool could not be written');
      expect(logged).toMatchObject({ level: 50, err: { code } });
    },
  );

  it('the service keeps serving once the disk has room again', async () => {
    const config = testConfig({ MEMORY_BUFFER_FILE_BYTES: '0' });
    let full = true;
    const disk = faultyDisk(10, 'ENOSPC');
    const openWrite: OpenWrite = (file) =>
      full ? disk(file) : faultyDisk(Number.MAX_SAFE_INTEGER, 'ENOSPC')(file);
    const { app } = buildService(config, fake.url, { openWrite });
    const clone = () =>
      request(app).post('/api/voices/clone').field('name', 'n').attach('files', audio('sample.mp3'));
    expect((await clone()).status).toBe(503);
    full = false;
    expect((await clone()).status).toBe(201);
    expect(filesIn(config.uploadDir)).toEqual([]);
  });
});
