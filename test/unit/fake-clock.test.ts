import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../helpers/fake-clock.js';

/** Settles `p` and says how, without waiting for it. */
function state(p: Promise<unknown>) {
  const s = { settled: 'pending' as 'pending' | 'resolved' | 'rejected' };
  p.then(
    () => {
      s.settled = 'resolved';
    },
    () => {
      s.settled = 'rejected';
    },
  );
  return s;
}
const turn = () => new Promise((r) => setImmediate(r));

describe('the fake clock the retry, pacing and cooldown tests run on', () => {
  it('stands still until told: sleepers wake in order of their wake-up, each at its own time', async () => {
    const clock = new FakeClock({ start: 1000 });
    const a = state(clock.sleep(100));
    const b = state(clock.sleep(50));
    const c = state(clock.sleep(100));
    await turn();
    expect([a.settled, b.settled, c.settled]).toEqual(['pending', 'pending', 'pending']);
    expect(clock.now()).toBe(1000);
    expect(clock.pending.map((s) => s.until)).toEqual([1050, 1100, 1100]);

    expect(clock.tick()).toBe(1050);
    await turn();
    expect([a.settled, b.settled, c.settled]).toEqual(['pending', 'resolved', 'pending']);
    expect(clock.tick()).toBe(1100);
    await turn();
    expect([a.settled, c.settled]).toEqual(['resolved', 'resolved']);
    expect(clock.sleeps.map((s) => [s.ms, s.from, s.state])).toEqual([
      [100, 1000, 'woken'],
      [50, 1000, 'woken'],
      [100, 1000, 'woken'],
    ]);
    expect(() => clock.tick()).toThrow(/nobody is sleeping/);
  });

  it('advance wakes everyone due by then and no one else', async () => {
    const clock = new FakeClock({ start: 0 });
    const a = state(clock.sleep(30));
    const b = state(clock.sleep(31));
    clock.advance(30);
    await turn();
    expect([a.settled, b.settled, clock.now()]).toEqual(['resolved', 'pending', 30]);
  });

  it('a wait already due (0 ms) wakes on the next turn without a tick', async () => {
    const clock = new FakeClock();
    await clock.sleep(0);
    expect(clock.sleeps[0]?.state).toBe('woken');
  });

  it('an abort rejects at once, like timers/promises, and the sleeper is gone', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(60_000, controller.signal);
    controller.abort(new Error('client disconnected'));
    await expect(sleeping).rejects.toMatchObject({
      name: 'AbortError',
      code: 'ABORT_ERR',
      cause: { message: 'client disconnected' },
    });
    expect(clock.pending).toEqual([]);
    expect(clock.sleeps[0]?.state).toBe('aborted');
    await expect(clock.sleep(5, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('autoAdvance runs one sleeper after another without help, and records every wait', async () => {
    const clock = new FakeClock({ start: 0, autoAdvance: true });
    await clock.sleep(40);
    await clock.sleep(2000);
    expect(clock.now()).toBe(2040);
    expect(clock.sleeps.map((s) => [s.ms, s.until])).toEqual([
      [40, 40],
      [2000, 2040],
    ]);
  });

  it('waitForSleepers resolves when enough wait at once, and fails with a clear message when not', async () => {
    const clock = new FakeClock();
    void clock.sleep(10);
    const later = clock.waitForSleepers(2, { timeoutMs: 200 });
    void clock.sleep(20);
    expect((await later).map((s) => s.ms)).toEqual([10, 20]);
    await expect(clock.waitForSleepers(3, { timeoutMs: 20 })).rejects.toThrow(
      /no 3 pending sleeps within 20 ms .*pending":2/,
    );
  });
});
