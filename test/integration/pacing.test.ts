import { describe, expect, it } from '@jest/globals';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { inFlight, postClone, waitUntil, withService } from '../helpers/kit.js';

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
});
