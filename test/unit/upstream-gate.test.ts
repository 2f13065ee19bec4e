import { describe, expect, it } from '@jest/globals';
import { createMemoryGate, nextSlot } from '../../src/stores/upstream-gate.js';

describe('nextSlot', () => {
  const p = { limit: 3, windowMs: 1000 };
  it('is now while the window has room', () => {
    expect(nextSlot([], 50, 0, p)).toBe(50);
    expect(nextSlot([0, 10], 50, 0, p)).toBe(50);
  });
  it('waits for the oldest of the last `limit` sends to leave the window', () => {
    expect(nextSlot([0, 10, 20], 50, 0, p)).toBe(1000);
    expect(nextSlot([0, 10, 20, 1000], 50, 0, p)).toBe(1010);
  });
  it('respects the cooldown and never goes backwards', () => {
    expect(nextSlot([], 50, 700, p)).toBe(700);
    expect(nextSlot([900], 50, 0, p)).toBe(900);
  });
  it('ignores booked sends when pacing is off', () => {
    expect(nextSlot([0, 1, 2, 3], 5, 0, { limit: 0, windowMs: 1000 })).toBe(5);
  });
});

describe('memory gate with SPEC numbers (100 per 60 s) on an injected clock', () => {
  it('books N+50 calls so that no 60 s window holds more than N, in arrival order, refusing past the deadline', async () => {
    const gate = createMemoryGate({ limit: 100, windowMs: 60_000 });
    const now = 1_000_000;
    const results = [];
    for (let i = 0; i < 150; i++) results.push(await gate.reserve(now, now + 90_000));
    const booked = results.filter((r) => r.ok).map((r) => r.at);
    expect(booked).toHaveLength(150);
    expect(booked.slice(0, 100).every((t) => t === now)).toBe(true);
    expect(booked.slice(100).every((t) => t === now + 60_000)).toBe(true);
    for (const t of booked)
      expect(booked.filter((u) => u > t - 60_000 && u <= t).length).toBeLessThanOrEqual(100);

    const short = createMemoryGate({ limit: 100, windowMs: 60_000 });
    const answers = [];
    for (let i = 0; i < 150; i++) answers.push(await short.reserve(now, now + 30_000));
    expect(answers.filter((a) => a.ok)).toHaveLength(100);
    expect(answers.slice(100).every((a) => !a.ok && a.at === now + 60_000)).toBe(true);
  });

  it('a slot given back no longer counts against the cap; one never booked changes nothing', async () => {
    const gate = createMemoryGate({ limit: 2, windowMs: 60_000 });
    const now = 1_000_000;
    const book = () => gate.reserve(now, now + 90_000);
    const a = await book();
    const b = await book();
    const c = await book();
    expect([a.at, b.at, c.at]).toEqual([now, now, now + 60_000]);
    await gate.release({ ok: false, at: now }); // refused: it booked nothing
    const d = await book();
    expect(d).toEqual({ ok: true, at: now + 60_000 });
    for (const slot of [b, c, d]) await gate.release(slot);
    // One send left in the window: the next goes at once.
    expect(await book()).toEqual({ ok: true, at: now });
  });

  it('a cooldown moves every slot behind the announced reset', async () => {
    const gate = createMemoryGate({ limit: 0, windowMs: 60_000 });
    await gate.setCooldown(5000);
    await gate.setCooldown(3000); // an earlier reset never shortens a later one
    expect(await gate.cooldownUntil()).toBe(5000);
    expect(await gate.reserve(1000, 10_000)).toEqual({ ok: true, at: 5000 });
    expect(await gate.reserve(1000, 4000)).toEqual({ ok: false, at: 5000 });
  });
});
