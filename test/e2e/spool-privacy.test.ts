import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { wavOfSize } from '../helpers/fixtures.js';
import { filesIn, suiteFakeUpstream, TEST_KEY } from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';
import { type ServiceProcess, startServiceProcess } from '../helpers/process.js';

/** SPEC "Privacy of uploads", tried with real processes sharing one UPLOAD_DIR. */

/** A WAV whose bytes the test knows, large enough that half of it is a real partial upload. */
const wav = wavOfSize(464_078);
const { body, contentType } = multipart([
  { field: 'name', value: 'Private' },
  { field: 'files', filename: 'private.wav', data: wav },
]);
const head = `POST /api/voices/clone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;

/** Starts an upload and sends all but its last bytes: the upload stays in flight, spooled. */
function uploadInFlight(svc: ServiceProcess): { socket: Socket; finish(): Promise<string> } {
  const { port } = new URL(svc.url);
  const socket = connect(Number(port), '127.0.0.1');
  let answer = '';
  socket.on('error', () => undefined);
  socket.write(Buffer.concat([Buffer.from(head), body.subarray(0, body.length - 100)]));
  return {
    socket,
    finish: () =>
      new Promise<string>((resolve) => {
        // The answer is in once its JSON body has arrived (the server keeps the connection open).
        socket.on('data', (c) => {
          answer += String(c);
          if (/\r\n\r\n\{[\s\S]*\}$/.test(answer)) resolve(answer);
        });
        socket.on('close', () => resolve(answer));
        socket.write(body.subarray(body.length - 100));
      }),
  };
}

/** Polls `check` until it holds or `ms` pass; returns its last value. */
async function until<T>(check: () => T, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = check();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    v = check();
  }
  return v;
}

/** The spooled files below `dir` that hold at least `bytes` bytes. */
const spooled = (dir: string, bytes = 1) =>
  filesIn(dir).filter((f) => {
    try {
      return statSync(path.join(dir, f)).size >= bytes;
    } catch {
      return false;
    }
  });

describe('spooled voices are private and do not outlive a crash', () => {
  const fake = suiteFakeUpstream();
  const started: ServiceProcess[] = [];
  const start = async (uploadDir: string) => {
    const svc = await startServiceProcess({
      NODE_ENV: 'test',
      TRUEDY_API_KEY: TEST_KEY,
      TRUEDY_BASE_URL: fake.url,
      UPLOAD_DIR: uploadDir,
      UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
      MEMORY_BUFFER_FILE_BYTES: '0',
    });
    started.push(svc);
    return svc;
  };
  afterAll(async () => {
    await Promise.all(started.map((s) => (s.proc.exitCode === null ? s.stop('SIGKILL') : undefined)));
  });

  /** A process on a fresh UPLOAD_DIR with an upload in flight, once the upload's file is spooled. */
  const uploadSpooled = async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bff-privacy-'));
    const svc = await start(dir);
    const upload = uploadInFlight(svc);
    const files = await until(
      () => spooled(dir, 200_000),
      (f) => f.length === 1,
    );
    expect(files).toHaveLength(1);
    return { dir, svc, upload, files };
  };

  it('an upload in flight is in a folder of the process own (0700), its file 0600', async () => {
    const { dir, svc, upload, files } = await uploadSpooled();
    const [folder] = readdirSync(dir);
    expect(folder).toMatch(/^truedy-bff\./);
    expect(statSync(path.join(dir, folder as string)).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, files[0] as string)).mode & 0o777).toBe(0o600);
    expect(path.dirname(files[0] as string)).toBe(folder);
    expect(await upload.finish()).toMatch(/^HTTP\/1\.1 201/);
    upload.socket.destroy();
    await svc.stop();
  });

  it('SIGKILLed mid-upload: the next process on the folder removes what it left at once', async () => {
    const { dir, svc: victim, upload } = await uploadSpooled();
    await victim.stop('SIGKILL');
    upload.socket.destroy();
    expect(spooled(dir)).toHaveLength(1); // nobody cleaned up: the process could not
    const next = await start(dir);
    // "At once": by the time the new process listens its sweep has run; allow it a moment anyway.
    expect(
      await until(
        () => spooled(dir),
        (f) => f.length === 0,
        2000,
      ),
    ).toEqual([]);
    expect(readdirSync(dir)).toHaveLength(1); // only the new process's own folder
    expect(next.lines.some((l) => l.includes('removed uploads left in UPLOAD_DIR'))).toBe(true);
    await next.stop();
  });

  it("a sibling started on the same folder leaves a live process's upload alone; it completes byte-exact", async () => {
    const { dir, svc: first, upload } = await uploadSpooled();
    const sibling = await start(dir);
    expect(spooled(dir, 200_000)).toHaveLength(1);
    const before = fake.received.length;
    expect(await upload.finish()).toMatch(/^HTTP\/1\.1 201/);
    upload.socket.destroy();
    const sent = JSON.parse(fake.received[before]?.body.toString() ?? '{}') as { files: { data: string }[] };
    expect(Buffer.from(sent.files[0]?.data ?? '', 'base64').equals(wav)).toBe(true);
    await Promise.all([first.stop(), sibling.stop()]);
    // Both exited cleanly: UPLOAD_DIR is as they found it.
    expect(readdirSync(dir)).toEqual([]);
  });
});
