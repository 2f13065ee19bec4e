/**
 * Upload bytes that large requests take together in one turn of the event loop, past which they
 * wait for the next (each waiting part still moves one chunk a turn). Without a bound, one turn
 * reads whatever every large upload's socket has ready (16 uploads at full speed: several MiB,
 * hashed and parsed in one go), and every other request, small clones and /healthz included,
 * waits for the whole turn: measured turns of 20–40 ms under the bench's heavy load. 128 KiB per
 * turn took the small uploads' p99 beside that load from 57–92 ms to 32–56 ms (docs/performance.md).
 */
export const TURN_BYTES = 128 * 1024;

/**
 * A request declaring more than this (or no length: chunked) is large and its parts share the
 * turn budget. A smaller one is not held back: its whole body is a bounded, short piece of work,
 * so finishing it first keeps small clones fast without stopping the large ones.
 */
export const LARGE_REQUEST_BYTES = 1024 * 1024;

/** A process-wide allowance of upload bytes per turn of the event loop, shared by large requests. */
export interface TurnBudget {
  /**
   * Counts `bytes` as taken this turn and runs `go` at once while the turn has room left; once it
   * is spent, `go` runs when the next turn begins. A part's stream waits for `go` before its next
   * chunk, so its socket stops being read (backpressure) and no bytes are lost or reordered.
   */
  take(bytes: number, go: () => void): void;
}

/** Schedules work for the next turn of the event loop (`setImmediate`; tests pass their own). */
export type NextTurn = (run: () => void) => void;

/**
 * Creates the budget. Turns are counted from the first `take` in them to the next check phase
 * (`setImmediate`), where the count starts again and every part that waited goes on, in the order
 * they came: each moves at least one chunk per turn, so no upload can be held up by the others.
 */
export function createTurnBudget(
  bytesPerTurn: number = TURN_BYTES,
  nextTurn: NextTurn = (run) => {
    setImmediate(run);
  },
): TurnBudget {
  let taken = 0;
  let turnEnding = false;
  let waiting: (() => void)[] = [];
  const newTurn = () => {
    turnEnding = false;
    taken = 0;
    const resumed = waiting;
    waiting = [];
    for (const go of resumed) go();
  };
  return {
    take(bytes, go) {
      taken += bytes;
      if (!turnEnding) {
        turnEnding = true;
        nextTurn(newTurn);
      }
      if (taken <= bytesPerTurn) go();
      else waiting.push(go);
    },
  };
}

/** Whether a request of this declared `Content-Length` shares the turn budget (see LARGE_REQUEST_BYTES). */
export function isLargeRequest(contentLength: string | undefined): boolean {
  if (contentLength === undefined) return true;
  const n = Number(contentLength);
  return !Number.isSafeInteger(n) || n > LARGE_REQUEST_BYTES;
}
