import { randomUUID } from 'node:crypto';
import { expect, it } from '@jest/globals';
import request from 'supertest';
import {
  audio,
  buildService,
  type FakeUpstream,
  listen,
  type Running,
  testConfig,
  truedy429,
} from './kit.js';
import { until } from './redis.js';

type Built = ReturnType<typeof buildService>;
type Fake = Pick<FakeUpstream, 'url' | 'queue' | 'received'>;

/**
 * Two instances of the service sharing one Redis (whatever its topology, named by `redisEnv`),
 * each on its own port, with a key prefix of their own so no other test's keys are seen.
 */
export async function twoInstances(
  redisEnv: Record<string, string>,
  fakeUrl: string,
  env: Record<string, string> = {},
  pacingWindowMs?: number,
  /** Collects every send time the shared pacing schedule grants either instance (the schedule itself). */
  granted?: number[],
) {
  const prefix = `t-${randomUUID()}:`;
  const built: Built[] = [];
  const running: Running[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const config = testConfig({ ...redisEnv, REDIS_KEY_PREFIX: prefix, ...env });
      const b = buildService(config, fakeUrl, { pacingWindowMs });
      if (granted) recordGrants(b, granted);
      built.push(b);
      expect(await b.ready(5000)).toBe(true);
      running.push(await listen(b.app));
    }
  } catch (error) {
    await Promise.all(built.map((b) => b.close()));
    throw error;
  }
  const [a, b] = running as [Running, Running];
  return {
    built,
    running,
    a,
    b,
    close: async () => {
      await Promise.all(running.map((r) => r.close()));
      await Promise.all(built.map((x) => x.close()));
    },
  };
}

/** A clone of one small file, optionally under an Idempotency-Key. */
export function clone(target: Parameters<typeof request>[0], name: string, idempotencyKey?: string) {
  const req = request(target).post('/api/voices/clone');
  if (idempotencyKey) req.set('Idempotency-Key', idempotencyKey);
  return req.field('name', name).attach('files', audio('sample.mp3'));
}

/**
 * Records each send time an instance's own gate grants, still booking through it: what the pacing
 * promises is read from the shared schedule, not inferred from arrival times at the fake, which
 * trail it by however long a busy machine takes to deliver a request.
 */
function recordGrants(b: Built, granted: number[]): void {
  const reserve = b.gate.reserve;
  b.gate.reserve = async (now, deadline) => {
    const slot = await reserve(now, deadline);
    if (slot.ok) granted.push(slot.at);
    return slot;
  };
}

/** Resolves once the fake has received more than `count` requests (bounded wait). */
export function nextArrival(fake: Fake, count: number) {
  return until('the upstream call', 5000, () => fake.received.length > count);
}

/**
 * The multi-instance cases, one copy for every topology (plain, Cluster, Sentinel): two instances
 * share the inbound limit, the cooldown, the pacing and idempotency records through Redis.
 * `redisEnv` is read when each case runs, after the suite's servers have started.
 */
export function sharedStoreCases(redisEnv: () => Record<string, string>, fake: Fake): void {
  it('share the inbound limit: the N+1th clone across both instances is refused', async () => {
    const pair = await twoInstances(redisEnv(), fake.url, { RATE_LIMIT_MAX: '3' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await clone((pair.running[i % 2] as Running).url, 'n')).status);
      expect(statuses).toEqual([201, 201, 201, 429]);
      const ready = await request(pair.a.url).get('/readyz');
      expect(ready.body).toMatchObject({ status: 'ready', redis: 'ok' });
    } finally {
      await pair.close();
    }
  });

  it("share the cooldown: a 429 learned by one instance delays the other's next upstream call", async () => {
    const pair = await twoInstances(redisEnv(), fake.url);
    try {
      fake.queue.push(truedy429(400));
      const before = fake.received.length;
      const first = clone(pair.a.url, 'one').then((r) => r);
      await nextArrival(fake, before);
      const limitedAt = fake.received.at(-1)?.at ?? 0;
      const second = await clone(pair.b.url, 'two');
      expect(second.status).toBe(201);
      expect((await first).status).toBe(201);
      const twoArrived = fake.received.find((r) => r.body.includes('"two"'))?.at ?? 0;
      expect(twoArrived - limitedAt).toBeGreaterThanOrEqual(370);
    } finally {
      await pair.close();
    }
  });

  it('share the pacing: UPSTREAM_RATE_LIMIT_PER_MINUTE holds for both together', async () => {
    const N = 4;
    const windowMs = 1000;
    const granted: number[] = [];
    const pair = await twoInstances(
      redisEnv(),
      fake.url,
      { UPSTREAM_RATE_LIMIT_PER_MINUTE: String(N), RETRY_BUDGET_MS: '1400' },
      windowMs,
      granted,
    );
    try {
      const start = fake.received.length;
      const results = await Promise.all(
        Array.from({ length: 3 * N }, (_, i) => clone((pair.running[i % 2] as Running).url, `p${i}`)),
      );
      const ok = results.filter((r) => r.status === 201).length;
      // Slots at 0 and 1000 ms fit a 1400 ms budget. A budget starts when its upload has been read,
      // so on a busy machine later uploads may reach the third window too (read 600 ms after the
      // first grant): how many are refused depends on the machine, what the schedule holds does not.
      expect(ok).toBeGreaterThanOrEqual(2 * N);
      expect(
        results.filter((r) => r.status !== 201).every((r) => r.body.error.code === 'upstream_rate_limited'),
      ).toBe(true);
      // The shared schedule: one grant per call that went upstream, never more than N in a window,
      // whichever instance asked.
      expect(fake.received.slice(start)).toHaveLength(ok);
      expect(granted).toHaveLength(ok);
      for (const t of granted)
        expect(granted.filter((u) => u >= t && u < t + windowMs).length).toBeLessThanOrEqual(N);
    } finally {
      await pair.close();
    }
  });

  it('share idempotency records: a replay and a conflict are seen by the other instance', async () => {
    const pair = await twoInstances(redisEnv(), fake.url);
    try {
      const before = fake.received.length;
      expect((await clone(pair.a.url, 'n', 'cross-1')).status).toBe(201);
      const replay = await clone(pair.b.url, 'n', 'cross-1');
      expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([201, 'true']);
      expect(fake.received.length - before).toBe(1);

      fake.queue.push(truedy429(300));
      const mark = fake.received.length;
      const slow = clone(pair.a.url, 'n', 'cross-2').then((r) => r);
      await nextArrival(fake, mark);
      const conflict = await clone(pair.b.url, 'n', 'cross-2');
      expect([conflict.status, conflict.body.error.code]).toEqual([409, 'idempotency_conflict']);
      expect((await slow).status).toBe(201);
    } finally {
      await pair.close();
    }
  });
}

/**
 * Polls clones (and /readyz) through a store outage until one is answered 201 again: every answer
 * on the way is a 201 or a 503 store_unavailable, and Truedy hears of none of the refused ones.
 * Returns the statuses seen and how long recovery took.
 */
export async function cloneUntilRecovered(b: Built, fake: Fake, timeoutMs: number) {
  const started = Date.now();
  const statuses: number[] = [];
  for (;;) {
    const before = fake.received.length;
    const res = await clone(b.app, 'again');
    statuses.push(res.status);
    if (res.status === 201) break;
    expect([res.status, res.body.error.code, res.headers['retry-after']]).toEqual([
      503,
      'store_unavailable',
      '5',
    ]);
    expect(fake.received.length).toBe(before);
    if (Date.now() - started > timeoutMs) throw new Error(`not recovered after ${timeoutMs} ms: ${statuses}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const recoveredMs = Date.now() - started;
  // Sentinel: ioredis may find the new master by asking Sentinel again, and then reconnect once
  // more when +switch-master arrives, a few milliseconds of 503 that a probe may fall into.
  await until(
    'readyz 200 after recovery',
    2000,
    async () => (await request(b.app).get('/readyz')).status === 200,
  );
  return { statuses, recoveredMs };
}
