import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { closeDestination, stdoutDestination } from '../../src/logger.js';
import { tempDir } from '../helpers/fixtures.js';

/** A FIFO with both ends open and never blocking: what a log reader at the other end of a pipe is. */
function pipe(): { reader: number; writer: number } {
  const file = path.join(tempDir(), 'log');
  execFileSync('mkfifo', [file]);
  const reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(file, constants.O_WRONLY | constants.O_NONBLOCK);
  return { reader, writer };
}

/** Everything the reader can take now. */
function drain(fd: number): string {
  const buf = Buffer.alloc(1 << 20);
  let text = '';
  for (;;) {
    try {
      const n = readSync(fd, buf);
      if (n === 0) return text;
      text += buf.toString('utf8', 0, n);
    } catch {
      return text; // EAGAIN: nothing more for now
    }
  }
}

describe('closeDestination', () => {
  it('writes out the lines still queued, then closes', async () => {
    const { reader, writer } = pipe();
    const destination = pino.destination(writer);
    const log = pino({}, destination);
    for (let i = 0; i < 50; i++) log.info({ i }, 'line');
    await closeDestination(destination, 60_000);
    expect(() => destination.write('more\n')).toThrow('SonicBoom destroyed');
    expect(drain(reader).trim().split('\n')).toHaveLength(50);
    closeSync(reader); // the writer was closed with the destination
  });

  it('ends at once when the reader is gone (EPIPE)', async () => {
    const { reader, writer } = pipe();
    const destination = pino.destination(writer);
    const log = pino({}, destination);
    closeSync(reader);
    log.info('nobody reads this');
    // A wait of a minute would time the test out: it ends with the failed write instead.
    await closeDestination(destination, 60_000);
    closeSync(writer); // pino stops using a destination that failed with EPIPE, without closing it
  });

  it('ends at once when the reader went away long before (pino has stopped writing to it)', async () => {
    const { reader, writer } = pipe();
    const destination = stdoutDestination(8 * 1024 * 1024, writer);
    const log = pino({}, destination);
    closeSync(reader);
    const failed = new Promise((resolve) => destination.once('error', resolve));
    log.info('nobody reads this');
    expect(await failed).toMatchObject({ code: 'EPIPE' });
    log.info('nor this');
    // pino has made end() a no-op by now, so no close will come: a minute's wait would time out.
    await closeDestination(destination, 60_000);
    closeSync(writer);
  });

  it('gives up on what a stuck reader has not taken, once its time is up', async () => {
    const { reader, writer } = pipe();
    const destination = pino.destination(writer);
    const log = pino({}, destination);
    // More than a pipe holds (64 KiB), and the reader never reads.
    for (let i = 0; i < 200; i++) log.info({ pad: 'x'.repeat(1000) }, 'line');
    await closeDestination(destination, 50);
    // Destroyed: pino's exit hook skips it instead of retrying the write for ever.
    expect(() => destination.write('more\n')).toThrow('SonicBoom destroyed');
    // sonic-boom's retry of the full pipe (every 100 ms) still fires once, on the fd it has just
    // closed: its EBADF is kept here, not thrown into the next test (the exiting service never sees it).
    const late = new Promise((resolve) => destination.once('error', resolve));
    expect(await late).toMatchObject({ code: 'EBADF' });
    closeSync(reader); // the writer was closed with the destination
  });
});

describe('stdoutDestination', () => {
  it('holds up to its bound of lines a stalled reader has not taken, and drops the rest, counted', async () => {
    const { reader, writer } = pipe();
    const destination = stdoutDestination(64 * 1024, writer);
    let dropped = 0;
    destination.on('drop', () => {
      dropped++;
    });
    const log = pino({}, destination);
    // About 1 MiB of lines while nobody reads: the pipe takes 64 KiB, the bound 64 KiB more.
    const written = 1000;
    for (let i = 0; i < written; i++) log.info({ i, pad: 'x'.repeat(1000) }, 'line');
    expect(dropped).toBeGreaterThan(0);
    // The reader comes back: every line kept arrives, none twice.
    let text = '';
    const reading = setInterval(() => {
      text += drain(reader);
    }, 5);
    await closeDestination(destination, 60_000);
    clearInterval(reading);
    text += drain(reader);
    const received = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).i as number);
    expect(new Set(received).size).toBe(received.length);
    expect(received.length + dropped).toBe(written);
    expect(received.length).toBeLessThan(300);
    closeSync(reader); // the writer was closed with the destination
  });

  it('still throws any other failure of the log, as an unhandled error would', () => {
    const { reader, writer } = pipe();
    const destination = stdoutDestination(64 * 1024, writer);
    const eio = Object.assign(new Error('i/o error'), { code: 'EIO' });
    expect(() => destination.emit('error', eio)).toThrow('i/o error');
    closeSync(reader);
    closeSync(writer);
  });
});
