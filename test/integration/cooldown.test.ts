import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../helpers/fake-clock.js';
import { inFlight, postClone, truedy429, withService } from '../helpers/kit.js';

describe('shared cooldown in one process (SPEC "Shared cooldown")', () => {
  it('a 429 holds every other request until the announced reset: it waits on the clock and sends nothing before', async () => {
    // The test moves time itself: two requests wait at once, and nothing may move until both do.
    const clock = new FakeClock();
    await withService(
      { clock, queue: [truedy429(300)], service: { random: () => 0 } },
      async ({ url, fake, log }) => {
        const start = clock.now();
        const first = inFlight(postClone(url, { name: 'first' }));
        await fake.waitForRequests(1);
        await clock.waitForSleepers(1); // the first waits out its own 429
        const second = inFlight(postClone(url, { name: 'second', headers: { 'X-Request-Id': 'second' } }));
        const waits = await clock.waitForSleepers(2);
        // The second never had a 429 of its own: it waits for the reset the first one learned.
        expect(waits.map((w) => w.until - start)).toEqual([300, 300]);
        expect(fake.received).toHaveLength(1);
        expect(
          log.lines.find((l) => l.request_id === 'second' && l.msg === 'waiting for an upstream slot'),
        ).toMatchObject({ waitMs: 300 });

        clock.tick();
        expect((await second).status).toBe(201);
        expect((await first).status).toBe(201);
        const seconds = fake.received.filter((r) => r.body.includes('"second"'));
        expect(seconds).toHaveLength(1);
        expect((seconds[0]?.clockAt ?? 0) - start).toBe(300);
      },
    );
  });
});
