import { request } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import { auditFilePath, readAuditFile } from '../helpers/audit-file.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { wavOfSize } from '../helpers/fixtures.js';
import {
  CLONE_PATH,
  cloneForm,
  deferred,
  filesIn,
  inFlight,
  truedy429,
  waitForEmptyDir,
  waitUntil,
  withService,
} from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';

/** A clone sent with fetch that the test can leave at any moment; `answer` rejects once it has. */
function leavingClone(url: string, name: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const answer = inFlight(
    fetch(`${url}${CLONE_PATH}`, {
      method: 'POST',
      body: cloneForm({ name }),
      headers,
      signal: controller.signal,
    }),
  );
  return { answer, leave: () => controller.abort() };
}

/** Resolves once the service has logged that a client went away. */
function stopLogged(log: { lines: Record<string, unknown>[] }) {
  return waitUntil('the stop logged', () =>
    log.lines.some((l) => String(l.msg).startsWith('the client went away')),
  );
}

/** The request's own log line (one per request, written when it ends). */
const requestLine = (log: { lines: Record<string, unknown>[] }) => log.lines.find((l) => l.msg === 'request');

/** What the service logged at error level or above: nothing, when a client merely left. */
const errorLines = (log: { lines: Record<string, unknown>[] }) =>
  log.lines.filter((l) => Number(l.level) >= 50);

describe('a client that disconnects during the retry wait (SPEC: cancels waits and attempts)', () => {
  it('cancels the pending wait and every attempt still to come, and leaves no spooled file', async () => {
    const clock = new FakeClock();
    const auditFile = auditFilePath();
    await withService(
      // Spooled to disk whatever the size, so "no spooled file left" means something.
      { clock, queue: [truedy429(400)], env: { MEMORY_BUFFER_FILE_BYTES: '0', AUDIT_LOG: auditFile } },
      async ({ url, fake, config, log }) => {
        const clone = leavingClone(url, 'Leaving');
        await fake.waitForRequests(1);
        const [wait] = await clock.waitForSleepers(1);
        expect(filesIn(config.uploadDir)).toHaveLength(1);

        clone.leave();
        await expect(clone.answer).rejects.toThrow();
        await clock.until('aborted retry wait', () => wait?.state === 'aborted');
        // Long past the reset, nothing is left to wake, and nothing more reached Truedy.
        clock.advance(60_000);
        expect(clock.pending).toEqual([]);
        expect(await waitForEmptyDir(config.uploadDir)).toEqual([]);
        expect(fake.received).toHaveLength(1);
        // A client that left is not a fault: nothing at error level, the reason at info.
        await stopLogged(log);
        expect(errorLines(log)).toEqual([]);
        // The audit trail says the clone ended with its client gone, after the one attempt it made.
        await waitUntil('the outcome on the audit trail', () => readAuditFile(auditFile).length === 2);
        expect(readAuditFile(auditFile)[1]).toMatchObject({
          status: 499,
          code: 'client_closed',
          attempts: 1,
        });
        // So does the request's log line, written when the client went.
        expect(requestLine(log)).toMatchObject({ status: 499, upstream_attempts: 1 });
      },
    );
  });
});

describe('a client that leaves once Truedy has its whole request', () => {
  it('the attempt runs to its answer: kept for the Idempotency-Key, audited, nothing logged as an error', async () => {
    const held = deferred();
    const auditFile = auditFilePath();
    await withService(
      { queue: [{ until: held.promise }], env: { AUDIT_LOG: auditFile } },
      async ({ url, fake, inbound, log, memoryBudget }) => {
        const key = { 'Idempotency-Key': 'leave-1' };
        const first = leavingClone(url, 'Leaving', key);
        await fake.waitForRequests(1);
        first.leave();
        await expect(first.answer).rejects.toThrow();
        // The service has seen the client go before Truedy answers.
        await waitUntil('the service to see the close', () => inbound[0]?.res.destroyed === true);
        // The attempt still holds the upload it sends: its memory is not given back yet.
        expect(memoryBudget.inUse).toBeGreaterThan(0);
        held.resolve();
        await waitUntil('the outcome on the audit trail', () => readAuditFile(auditFile).length === 2);
        await waitUntil('the memory given back', () => memoryBudget.inUse === 0);
        expect(readAuditFile(auditFile)[1]).toMatchObject({ status: 201, voice_id: expect.any(String) });
        // Its log line, written when the client went mid-attempt, counts that attempt.
        expect(requestLine(log)).toMatchObject({ status: 499, upstream_attempts: 1 });

        const again = await fetch(`${url}${CLONE_PATH}`, {
          method: 'POST',
          body: cloneForm({ name: 'Leaving' }),
          headers: key,
        });
        expect(again.status).toBe(201);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(fake.received).toHaveLength(1);
        expect(errorLines(log)).toEqual([]);
      },
    );
  });

  it('a read whose client leaves before Truedy answers is stopped, and settles', async () => {
    const held = deferred();
    await withService({ queue: [{ until: held.promise }] }, async ({ url, fake, log }) => {
      const controller = new AbortController();
      const read = inFlight(fetch(`${url}/api/voices/voice_1`, { signal: controller.signal }));
      await fake.waitForRequests(1);
      controller.abort();
      await expect(read).rejects.toThrow();
      await stopLogged(log);
      expect(errorLines(log)).toEqual([]);
      held.resolve();
    });
  });

  it('a client gone just before its attempt starts: no attempt is sent, its pacing slot is given back', async () => {
    // The gate's last check before the attempt is held open while the client leaves.
    const inner = createMemoryGate({ limit: 2, windowMs: 60_000 });
    const reached = deferred();
    const proceed = deferred();
    const released: number[] = [];
    const gate: UpstreamGate = {
      ...inner,
      cooldownUntil: async () => {
        reached.resolve();
        await proceed.promise;
        return inner.cooldownUntil();
      },
      release: async (slot) => {
        released.push(slot.at);
        await inner.release(slot);
      },
    };
    await withService({ service: { gate } }, async ({ url, fake, inbound, log }) => {
      const clone = leavingClone(url, 'Late');
      await reached.promise;
      clone.leave();
      await expect(clone.answer).rejects.toThrow();
      await waitUntil('the service to see the close', () => inbound[0]?.res.destroyed === true);
      proceed.resolve();
      await stopLogged(log);
      expect(fake.received).toHaveLength(0);
      expect(released).toHaveLength(1);
    });
  });

  it('a failed answer Truedy gives after its client left is audited as that answer, not as 499', async () => {
    const held = deferred();
    const auditFile = auditFilePath();
    const reply = { until: held.promise, status: 201, body: { data: { name: 'no id' } } };
    await withService({ queue: [reply], env: { AUDIT_LOG: auditFile } }, async ({ url, fake, inbound }) => {
      const clone = leavingClone(url, 'No id');
      await fake.waitForRequests(1);
      clone.leave();
      await expect(clone.answer).rejects.toThrow();
      await waitUntil('the service to see the close', () => inbound[0]?.res.destroyed === true);
      held.resolve();
      await waitUntil('the outcome on the audit trail', () => readAuditFile(auditFile).length === 2);
      expect(readAuditFile(auditFile)[1]).toMatchObject({ status: 502, code: 'upstream_invalid_response' });
    });
  });

  it('a client gone mid-upload is audited as 499 client_closed', async () => {
    const auditFile = auditFilePath();
    await withService({ env: { AUDIT_LOG: auditFile } }, async ({ url, inbound }) => {
      const { body, contentType } = multipart([
        { field: 'name', value: 'Half' },
        { field: 'files', filename: 'a.wav', data: wavOfSize(256 * 1024) },
      ]);
      const req = request(`${url}${CLONE_PATH}`, {
        method: 'POST',
        headers: { 'content-type': contentType, 'content-length': body.length },
      });
      req.on('error', () => undefined);
      req.write(body.subarray(0, body.length - 1000));
      await waitUntil('the request to arrive', () => inbound.length === 1);
      req.destroy();
      await waitUntil('the outcome on the audit trail', () => readAuditFile(auditFile).length === 1);
      expect(readAuditFile(auditFile)[0]).toMatchObject({ status: 499, code: 'client_closed' });
    });
  });
});
