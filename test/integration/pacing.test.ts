import { describe, expect, it } from '@jest/globals';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { CLONE_PATH, cloneForm, inFlight, postClone, waitUntil, withService } from '../helpers/kit.js';

const WINDOW_MS = 60_000; // SPEC's window: on a fake clock, no test waits for it

describe('pacing toward Truedy (SPEC "Pacing", UPSTREAM_RATE_LIMIT_PER_MINUTE)', () => {
  it('with a cap of N, N+50 clones at once: N per window in arrival order, the rest a clean 429 naming the next free slot', async () => {
    const N = 5;
    const clock = new FakeClock();
    // The memory gate, recording every send time it grants: the schedule itself.
    const inner = createMemoryGate({ limit: N, windowMs: WINDOW_MS });
    const granted: number[] = [];
    const gate: UpstreamGate = {
      ...inner,
      reserve: async (now, deadline) => {
        const slot = await inner.reserve(now, deadline);
        if (slot.ok) granted.push(slot.at);
        return slot;
      },
    };
    // A budget of 150 s fits the slots at 0, 60 and 120 s; the one at 180 s does not.
    const env = { UPSTREAM_RATE_LIMIT_PER_MINUTE: String(N), RETRY_BUDGET_MS: '150000' };
    await withService({ clock, env, service: { gate } }, async ({ url, fake }) => {
      const start = clock.now();
      let settled = 0;
      const results = Array.from({ length: N + 50 }, (_, i) =>
        inFlight(
          postClone(url, { name: `v${i}` }).then((r) => {
            settled++;
            return r;
          }),
        ),
      );
      // Time stands still until every request has met the gate: N go now, 2N wait, 40 are refused.
      for (const window of [1, 2, 3]) {
        await fake.waitForRequests(window * N, { timeoutMs: 10_000 });
        await clock.waitForSleepers((3 - window) * N, { timeoutMs: 10_000 });
        await waitUntil(`${40 + window * N} answers`, () => settled === 40 + window * N, {
          timeoutMs: 10_000,
        });
        expect(fake.received).toHaveLength(window * N);
        if (window < 3) clock.tick();
      }
      const answers = await Promise.all(results);
      const ok = answers.filter((r) => r.status === 201);
      const refused = answers.filter((r) => r.status !== 201);
      expect(ok).toHaveLength(3 * N);
      expect(refused).toHaveLength(50 - 2 * N);
      for (const r of refused) {
        expect([r.status, r.body.error.code]).toEqual([429, 'upstream_rate_limited']);
        expect(r.headers['retry-after']).toBe('180'); // the next free slot, 3 windows on
      }
      // The schedule, and what Truedy saw on the service's clock: N per window, never more.
      const perWindow = (times: number[]) =>
        [0, 1, 2].map((w) => times.filter((t) => t - start === w * WINDOW_MS).length);
      expect(granted).toHaveLength(3 * N);
      expect(perWindow(granted)).toEqual([N, N, N]);
      expect(perWindow(fake.received.map((r) => r.clockAt))).toEqual([N, N, N]);
    });
  });

  it('callers that leave while waiting for their turn give their slots back: the next caller is not pushed behind them', async () => {
    const clock = new FakeClock();
    const env = { UPSTREAM_RATE_LIMIT_PER_MINUTE: '2', RETRY_BUDGET_MS: '150000' };
    await withService({ clock, env }, async ({ url, fake }) => {
      // The window's two sends go at once.
      for (const name of ['a', 'b']) expect((await postClone(url, { name })).status).toBe(201);
      // Two more wait for the next window, and leave while waiting.
      const leaving = ['c', 'd'].map(() => new AbortController());
      const gone = leaving.map((c, i) =>
        inFlight(
          fetch(`${url}${CLONE_PATH}`, {
            method: 'POST',
            body: cloneForm({ name: `gone${i}` }),
            signal: c.signal,
          }),
        ),
      );
      const waits = await clock.waitForSleepers(2);
      expect(waits.map((w) => w.ms)).toEqual([WINDOW_MS, WINDOW_MS]);
      for (const c of leaving) c.abort();
      for (const g of gone) await expect(g).rejects.toThrow();
      await waitUntil('both waits cancelled', () => waits.every((w) => w.state === 'aborted'));
      // The next caller gets the first slot of the next window, not one a window later still.
      const next = inFlight(postClone(url, { name: 'e' }));
      const [wait] = await clock.waitForSleepers(1);
      expect(wait?.ms).toBe(WINDOW_MS);
      clock.tick();
      expect((await next).status).toBe(201);
      expect(fake.received).toHaveLength(3);
    });
  });

  it('a caller a cooldown moves while it waits gives back the slot it waited for', async () => {
    const clock = new FakeClock();
    const inner = createMemoryGate({ limit: 2, windowMs: WINDOW_MS });
    const released: number[] = [];
    const gate: UpstreamGate = {
      ...inner,
      release: async (slot) => {
        released.push(slot.at);
        await inner.release(slot);
      },
    };
    const env = { UPSTREAM_RATE_LIMIT_PER_MINUTE: '2', RETRY_BUDGET_MS: '150000' };
    await withService({ clock, env, service: { gate } }, async ({ url }) => {
      const start = clock.now();
      for (const name of ['a', 'b']) expect((await postClone(url, { name })).status).toBe(201);
      const moved = inFlight(postClone(url, { name: 'c' }));
      await clock.waitForSleepers(1);
      // A 429 seen elsewhere while it waits: the whole queue moves behind the announced reset.
      await gate.setCooldown(start + 90_000);
      clock.tick();
      const [again] = await clock.waitForSleepers(1);
      expect(again?.until).toBe(start + 90_000);
      expect(released).toEqual([start + WINDOW_MS]);
      clock.tick();
      expect((await moved).status).toBe(201);
    });
  });
});
