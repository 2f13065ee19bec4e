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

  it('waiting parts go on in turn, the longest waiting first, as many as each turn has room for', () => {
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
    expect(went.splice(0)).toEqual(['x']); // 60 bytes went; the next 60 would pass 100
    const perTurn: string[][] = [];
    while (turns.pending() > 0) {
      turns.endTurn();
      perTurn.push(went.splice(0));
    }
    // Round robin, two 60-byte chunks a turn (the second takes the turn past its 100 bytes, and
    // then nothing more goes): no part is skipped, and no turn carries more than its room allows.
    expect(perTurn).toEqual([['x', 'y'], ['z', 'x'], ['y', 'z'], ['x', 'y'], ['z', 'y'], ['z']]);
  });

  it('a chunk that comes while others wait queues behind them, even if the turn has room', () => {
    const turns = manualTurns();
    const budget = createTurnBudget(100, turns.nextTurn);
    const went: string[] = [];
    budget.take(100, () => went.push('a'));
    budget.take(10, () => went.push('b')); // the turn is spent: b waits
    turns.endTurn();
    budget.take(10, () => went.push('c')); // room left (b took 10), but nobody waits now: c goes
    expect(went).toEqual(['a', 'b', 'c']);
    budget.take(200, () => went.push('d')); // more than the turn has: waits
    budget.take(1, () => went.push('e')); // behind d, though 1 byte would fit
    expect(went).toEqual(['a', 'b', 'c']);
    turns.endTurn();
    expect(went).toEqual(['a', 'b', 'c', 'd']); // d alone spends a whole turn
    turns.endTurn();
    expect(went).toEqual(['a', 'b', 'c', 'd', 'e']);
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
