import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  buildService,
  deferred,
  inFlight,
  listen,
  postClone,
  type Running,
  suiteFakeUpstream,
  testConfig,
  truedy429,
} from '../helpers/kit.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** A clone with an Idempotency-Key (none when undefined). */
const post = (
  target: Parameters<typeof postClone>[0],
  key: string | undefined,
  name = 'Same',
  file = 'sample.mp3',
) => postClone(target, { name, files: [file], headers: key === undefined ? {} : { 'Idempotency-Key': key } });

/** A voice answer held until the test lets it go: the clone stays in flight exactly that long. */
function heldVoice() {
  const release = deferred();
  return { reply: { until: release.promise }, release: () => release.resolve() };
}

describe('Idempotency-Key (in memory)', () => {
  const fake = suiteFakeUpstream();

  it('the same key and upload replays the stored answer with no upstream call', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const before = fake.received.length;
    const first = await post(app, 'key-1');
    expect(first.status).toBe(201);
    const again = await post(app, 'key-1');
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(fake.received.length - before).toBe(1);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
  });

  it('the same key with a different upload is 422 idempotency_key_reuse', async () => {
    const { app } = buildService(testConfig(), fake.url);
    expect((await post(app, 'key-2')).status).toBe(201);
    const otherName = await post(app, 'key-2', 'Other name');
    expect([otherName.status, otherName.body.error.code]).toEqual([422, 'idempotency_key_reuse']);
    const otherBytes = await post(app, 'key-2', 'Same', 'sample.wav');
    expect(otherBytes.status).toBe(422);
  });

  it('the same key while the first is still running is 409; a different upload then is 422', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const held = heldVoice();
    fake.queue.push(held.reply);
    const before = fake.received.length;
    const first = inFlight(post(app, 'key-3'));
    await fake.waitForRequests(before + 1);
    const during = await post(app, 'key-3');
    expect([during.status, during.body.error.code]).toEqual([409, 'idempotency_conflict']);
    const differentDuring = await post(app, 'key-3', 'Different');
    expect(differentDuring.status).toBe(422);
    held.release();
    expect((await first).status).toBe(201);
    expect(fake.received.length - before).toBe(1);
  });

  it('stores upstream 402 (definitive) but not 429 or 5xx, so a later retry can succeed', async () => {
    const { app } = buildService(testConfig({ RETRY_MAX_ATTEMPTS: '1' }), fake.url);
    fake.queue.push({
      status: 402,
      body: { error: { code: 'insufficient_credits', message: 'no credits' } },
    });
    const refused = await post(app, 'key-4');
    expect(refused.status).toBe(402);
    const replay = await post(app, 'key-4');
    expect(replay.status).toBe(402);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.error.code).toBe('insufficient_credits');

    fake.queue.push(truedy429(10));
    expect((await post(app, 'key-5')).status).toBe(429);
    fake.queue.push({ status: 500, body: {} });
    expect((await post(app, 'key-5')).status).toBe(502);
    const ok = await post(app, 'key-5');
    expect(ok.status).toBe(201);
    expect(ok.headers['idempotent-replayed']).toBeUndefined();
  });

  it('stores the 502 for a 2xx without a voice id or too large to read: a retry must not clone again', async () => {
    const { app } = buildService(testConfig({ UPSTREAM_MAX_RESPONSE_BYTES: '1024' }), fake.url);
    const before = fake.received.length;
    fake.queue.push(
      { status: 201, body: { data: { name: 'no id' } } },
      { status: 201, body: { data: { id: 'v', name: 'x'.repeat(4096) } } },
    );
    for (const key of ['key-no-id', 'key-too-large']) {
      const first = await post(app, key);
      expect([first.status, first.body.error.code]).toEqual([502, 'upstream_invalid_response']);
      const again = await post(app, key);
      expect(again.status).toBe(502);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body.error).toEqual(first.body.error);
    }
    expect(fake.received.length - before).toBe(2);
    // A large answer that is not a 2xx created nothing: it is not kept.
    fake.queue.push({ status: 500, body: { error: { message: 'x'.repeat(4096) } } });
    expect((await post(app, 'key-large-500')).status).toBe(502);
    expect((await post(app, 'key-large-500')).status).toBe(201);
  });

  it('keys are scoped per caller', async () => {
    const { app } = buildService(
      testConfig({ CLIENT_TOKENS: 'tok_caller_one_000000,tok_caller_two_000000' }),
      fake.url,
    );
    const as = (token: string, name: string) =>
      post(app, 'shared-key', name).set('Authorization', `Bearer ${token}`);
    expect((await as('tok_caller_one_000000', 'One')).status).toBe(201);
    const other = await as('tok_caller_two_000000', 'Two');
    expect(other.status).toBe(201);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
  });

  it.each([[''], ['x'.repeat(256)], ['naïve']])('an invalid key %j is 400', async (key) => {
    const { app } = buildService(testConfig(), fake.url);
    const res = await post(app, Buffer.from(key, 'utf8').toString('latin1'), 'n');
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_request']);
  });
});

describe('Idempotency-Key across instances (Redis)', () => {
  let redis: TestRedis;
  const fake = suiteFakeUpstream();
  const servers: Running[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await redis.stop();
  });

  it('a replay and a conflict are seen by the other instance', async () => {
    const built = [0, 1].map(() => buildService(testConfig({ REDIS_URL: redis.url }), fake.url));
    for (const b of built) expect(await b.ready(3000)).toBe(true);
    for (const b of built) servers.push(await listen(b.app));
    const [a, b] = servers as [Running, Running];
    const before = fake.received.length;
    expect((await post(a.url, 'cross-1')).status).toBe(201);
    const replay = await post(b.url, 'cross-1');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(fake.received.length - before).toBe(1);

    const held = heldVoice();
    fake.queue.push(held.reply);
    const mark = fake.received.length;
    const slow = inFlight(post(a.url, 'cross-2'));
    await fake.waitForRequests(mark + 1);
    expect((await post(b.url, 'cross-2')).status).toBe(409);
    held.release();
    expect((await slow).status).toBe(201);
    await Promise.all(built.map((x) => x.close()));
  });

  it('a voice created while Redis went away is still answered 201 (the record is lost, not the voice)', async () => {
    const own = await startRedis();
    const b = buildService(testConfig({ REDIS_URL: own.url }), fake.url);
    try {
      expect(await b.ready(3000)).toBe(true);
      const mark = fake.received.length;
      const held = heldVoice();
      fake.queue.push(held.reply);
      const pending = inFlight(post(b.app, 'lost-record'));
      await fake.waitForRequests(mark + 1);
      await own.stop();
      held.release(); // Truedy made the voice; Redis is gone by the time the answer is stored
      const res = await pending;
      expect(res.status).toBe(201);
      expect(b.log.lines.some((l) => l.msg === 'could not store the idempotent answer')).toBe(true);
    } finally {
      await b.close();
      await own.stop();
    }
  });
});
