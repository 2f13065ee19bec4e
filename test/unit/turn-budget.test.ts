import { describe, expect, it } from '@jest/globals';
import {
  createTurnBudget,
  isLargeRequest,
  LARGE_REQUEST_BYTES,
  type NextTurn,
} from '../../src/upload/turn-budget.js';

/** A next-turn scheduler the test runs by hand: `endTurn()` is the event loop's check phase. */
function manualTurns() {
  let queued: (() => void)[] = [];
  const nextTurn: NextTurn = (run) => {
    queued.push(run);
  };
  return {
    nextTurn,
    pending: () => queued.length,
    endTurn() {
      const run = queued;
      queued = [];
      for (const r of run) r();
    },
  };
}

describe('the per-turn upload budget', () => {
  it('lets chunks through at once while the turn has room, and holds the rest for the next turn', () => {
    const turns = manualTurns();
    const budget = createTurnBudget(100, turns.nextTurn);
    const went: string[] = [];
    budget.take(60, () => went.push('a'));
    budget.take(40, () => went.push('b'));
    budget.take(1, () => went.push('c'));
    budget.take(50, () => went.push('d'));
    expect(went).toEqual(['a', 'b']);
    expect(turns.pending()).toBe(1); // one turn end is scheduled, however many chunks came
    turns.endTurn();
    expect(went).toEqual(['a', 'b', 'c', 'd']);
  });

  it('starts counting again in each turn', () => {
    const turns = manualTurns();
    const budget = createTurnBudget(100, turns.nextTurn);
    const went: number[] = [];
    budget.take(100, () => went.push(1));
    turns.endTurn();
    budget.take(100, () => went.push(2));
    expect(went).toEqual([1, 2]);
  });

  it('a chunk larger than the whole budget still goes, in the next turn', () => {
    const turns = manualTurns();
    const budget = createTurnBudget(10, turns.nextTurn);
    let went = false;
    budget.take(64, () => {
      went = true;
    });
    expect(went).toBe(false);
    turns.endTurn();
    expect(went).toBe(true);
  });

  it('every waiting part goes on each turn, in order, and what it takes next counts toward that turn', () => {
    const turns = manualTurns();
    const budget = createTurnBudget(100, turns.nextTurn);
    const went: string[] = [];
    // Parts of 4 chunks that ask for the next one as soon as the last one went, as a stream does.
    const part = (name: string) => {
      let left = 4;
      const step = () => {
        went.push(name);
        if (--left > 0) budget.take(60, step);
      };
      budget.take(60, step);
    };
    part('x');
    part('y');
    part('z');
    expect(went).toEqual(['x']); // 60 bytes went; the next 60 would pass 100
    turns.endTurn();
    // x, y and z were waiting and all go on; x's next chunk fits the new turn, the one after not.
    expect(went.splice(0)).toEqual(['x', 'x', 'x', 'y', 'z']);
    turns.endTurn();
    expect(went.splice(0)).toEqual(['x', 'y', 'y', 'z']);
    turns.endTurn();
    expect(went.splice(0)).toEqual(['y', 'z', 'z']);
    turns.endTurn(); // the last takes' turn ends with nobody waiting, and no turn is asked for after it
    expect(went).toEqual([]);
    expect(turns.pending()).toBe(0);
  });

  it('runs its turns on the real event loop by default', async () => {
    const budget = createTurnBudget(1);
    const order: string[] = [];
    budget.take(1, () => order.push('first'));
    budget.take(1, () => order.push('next turn'));
    order.push('same turn');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['first', 'same turn', 'next turn']);
  });
});

describe('which requests share the budget', () => {
  it('a request declaring more than LARGE_REQUEST_BYTES, or no length at all, is large', () => {
    expect(isLargeRequest(String(LARGE_REQUEST_BYTES + 1))).toBe(true);
    expect(isLargeRequest(undefined)).toBe(true);
    expect(isLargeRequest('not a number')).toBe(true);
  });

  it('a request declaring up to LARGE_REQUEST_BYTES is not held back', () => {
    expect(isLargeRequest(String(LARGE_REQUEST_BYTES))).toBe(false);
    expect(isLargeRequest('0')).toBe(false);
  });
});
