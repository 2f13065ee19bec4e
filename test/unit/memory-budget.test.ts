import { describe, expect, it } from '@jest/globals';
import { createMemoryBudget } from '../../src/upload/memory-budget.js';
import { Spool } from '../../src/upload/spool.js';

describe('the memory budget', () => {
  it('grants while the total fits, refuses past it, and counts the high-water mark', () => {
    const b = createMemoryBudget({ fileBytes: 100, totalBytes: 250 });
    expect(b.tryReserve(100)).toBe(true);
    expect(b.tryReserve(100)).toBe(true);
    expect(b.tryReserve(51)).toBe(false);
    expect(b.inUse).toBe(200);
    expect(b.tryReserve(50)).toBe(true);
    b.release(150);
    expect(b.inUse).toBe(100);
    expect(b.highWater).toBe(250);
    b.release(100);
    expect(b.inUse).toBe(0);
    expect(b.reservedTotal).toBe(b.releasedTotal);
  });

  it('0 for either setting turns memory buffering off', () => {
    for (const s of [
      { fileBytes: 0, totalBytes: 1000 },
      { fileBytes: 1000, totalBytes: 0 },
    ]) {
      const b = createMemoryBudget(s);
      expect(b.fileBytes).toBe(0);
      expect(b.tryReserve(1)).toBe(false);
    }
  });

  it('a file size over the total is capped at the total', () => {
    expect(createMemoryBudget({ fileBytes: 1000, totalBytes: 10 }).fileBytes).toBe(10);
  });

  it('a release never takes the count below zero, and shows in the totals', () => {
    const b = createMemoryBudget({ fileBytes: 10, totalBytes: 10 });
    b.tryReserve(5);
    b.release(5);
    b.release(5);
    expect(b.inUse).toBe(0);
    expect(b.releasedTotal).toBeGreaterThan(b.reservedTotal);
  });
});

describe("a request's spool and the budget", () => {
  const folder = { dir: '/nonexistent', openWrite: () => Promise.reject(new Error('unused')) as never };

  it('gives back what it reserved exactly once, however often it is released', async () => {
    const budget = createMemoryBudget({ fileBytes: 100, totalBytes: 1000 });
    const spool = new Spool(folder, budget);
    expect(spool.reserve(60)).toBe(true);
    expect(spool.reserve(40)).toBe(true);
    spool.unreserve(30);
    expect(budget.inUse).toBe(70);
    await spool.release();
    await spool.release();
    spool.unreserve(30); // a late "written to disk" callback after the request ended
    expect(budget.inUse).toBe(0);
    expect(budget.releasedTotal).toBe(budget.reservedTotal);
  });

  it('grants nothing once released: a part still arriving goes nowhere', async () => {
    const budget = createMemoryBudget({ fileBytes: 100, totalBytes: 1000 });
    const spool = new Spool(folder, budget);
    await spool.release();
    expect(spool.reserve(10)).toBe(false);
    expect(budget.inUse).toBe(0);
  });

  it('two spools share one budget: the second is refused what the first holds', () => {
    const budget = createMemoryBudget({ fileBytes: 100, totalBytes: 100 });
    const a = new Spool(folder, budget);
    const b = new Spool(folder, budget);
    expect(a.reserve(80)).toBe(true);
    expect(b.reserve(30)).toBe(false);
    expect(b.reserve(20)).toBe(true);
    expect(budget.inUse).toBe(100);
  });
});
