import type { Clock } from '../../src/clock.js';

/** One call to `sleep`, as the fake clock saw it: what the service planned to wait, on its own clock. */
export interface RecordedSleep {
  /** The wait asked for. */
  ms: number;
  /** Virtual time when the sleep began. */
  from: number;
  /** Virtual time it wakes at (`from + ms`). */
  until: number;
  state: 'pending' | 'woken' | 'aborted';
}

/** Options for a FakeClock. */
export interface FakeClockOptions {
  /** Virtual start time (epoch ms): a fixed date, so every run reads the same times. */
  start?: number;
  /**
   * Jump to the earliest wake-up on its own, one event-loop turn after a sleep begins. Only for
   * tests with one sleeper at a time (a single request retrying): with several, time would run
   * ahead of requests still on their way, so those tests advance the clock themselves.
   */
  autoAdvance?: boolean;
}

interface Sleeper {
  record: RecordedSleep;
  wake(): void;
}

/** 2026-03-03T12:00:00Z: far from any real "now", so a test that mixes up the clocks shows it. */
const START = Date.UTC(2026, 2, 3, 12, 0, 0);

/**
 * A virtual clock for retry, pacing and cooldown tests (`Clock` from src/clock.ts): `now()` moves
 * only when the test moves it (`tick`, `advance`) or, with `autoAdvance`, when every sleeper waits;
 * every sleep is recorded, so tests assert the waits the service planned instead of wall-clock gaps.
 * Any number of sleepers may wait at once; an aborted signal rejects its sleep at once, as Node's
 * `timers/promises` does (an `AbortError` whose `cause` is the signal's reason).
 */
export class FakeClock implements Clock {
  /** Every sleep in call order, woken and aborted ones included. */
  readonly sleeps: RecordedSleep[] = [];
  readonly #start: number;
  #now: number;
  readonly #auto: boolean;
  readonly #sleepers = new Set<Sleeper>();
  readonly #watchers = new Set<() => void>();

  constructor(options: FakeClockOptions = {}) {
    this.#start = options.start ?? START;
    this.#now = this.#start;
    this.#auto = options.autoAdvance ?? false;
  }

  /** The virtual time (epoch ms). */
  now(): number {
    return this.#now;
  }

  /** Resolves once virtual time reaches `now + ms`; rejects as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const record: RecordedSleep = {
      ms,
      from: this.#now,
      until: this.#now + Math.max(0, ms),
      state: 'pending',
    };
    this.sleeps.push(record);
    if (signal?.aborted) {
      record.state = 'aborted';
      this.#changed();
      return Promise.reject(abortError(signal));
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#sleepers.delete(sleeper);
        record.state = 'aborted';
        reject(abortError(signal as AbortSignal));
        this.#changed();
      };
      const sleeper: Sleeper = {
        record,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#sleepers.delete(sleeper);
          record.state = 'woken';
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.add(sleeper);
      this.#changed();
      // A wait that is already due (0 ms, say) wakes on the next turn, as a real timer would.
      if (record.until <= this.#now) setImmediate(() => this.#wakeDue());
      else if (this.#auto) setImmediate(() => this.#sleepers.size > 0 && this.tick());
    });
  }

  /** The sleeps still waiting, earliest wake-up first. */
  get pending(): RecordedSleep[] {
    return [...this.#sleepers].map((s) => s.record).sort((a, b) => a.until - b.until);
  }

  /** Jumps to the earliest pending wake-up and wakes every sleeper due then; returns the new time. */
  tick(): number {
    const next = this.pending[0];
    if (!next) throw new Error(`FakeClock.tick: nobody is sleeping (${this.describe()})`);
    this.#now = Math.max(this.#now, next.until);
    this.#wakeDue();
    return this.#now;
  }

  /**
   * Moves time forward by `ms`, waking every sleeper due by then, earliest first. The woken ones
   * carry on after this returns, so they all read the new time; use `tick` to stop at each wake-up.
   */
  advance(ms: number): void {
    this.#now += ms;
    this.#wakeDue();
  }

  /** Resolves once `check()` holds (checked at every sleep, wake-up and abort); rejects after `timeoutMs`. */
  until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#watchers.delete(watcher);
      };
      const watcher = () => {
        if (!check()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`FakeClock: no ${what} within ${timeoutMs} ms (${this.describe()})`));
      }, timeoutMs);
      this.#watchers.add(watcher);
    });
  }

  /** Resolves once at least `n` sleeps are pending at the same time; returns them, earliest first. */
  async waitForSleepers(n: number, { timeoutMs = 5000 } = {}): Promise<RecordedSleep[]> {
    await this.until(`${n} pending sleeps`, () => this.#sleepers.size >= n, timeoutMs);
    return this.pending;
  }

  /** The clock's state, for failure messages. */
  describe(): string {
    const counts = { pending: 0, woken: 0, aborted: 0 };
    for (const s of this.sleeps) counts[s.state]++;
    return `now = start + ${this.#now - this.#start} ms; sleeps: ${JSON.stringify(counts)}`;
  }

  #wakeDue(): void {
    const due = [...this.#sleepers]
      .filter((s) => s.record.until <= this.#now)
      .sort((a, b) => a.record.until - b.record.until);
    for (const s of due) s.wake();
    this.#changed();
  }

  #changed(): void {
    for (const w of [...this.#watchers]) w();
  }
}

/** The error Node's `timers/promises` rejects with when its signal aborts. */
function abortError(signal: AbortSignal): Error {
  const error = new Error('The operation was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  return Object.assign(error, { code: 'ABORT_ERR' });
}
