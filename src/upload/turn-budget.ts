/**
 * Upload bytes that large requests take together in one turn of the event loop. Without a bound,
 * one turn reads whatever every large upload's socket has ready (16 uploads at full speed: several
 * MiB, hashed and parsed in one go), and every other request, small clones and /healthz included,
 * waits for the whole turn: measured turns of 20–40 ms under the bench's heavy load. 128 KiB per
 * turn cut the small uploads' p99 beside that load from 62–85 ms to 33–47 ms (README "Performance").
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
   * Runs `go` at once while this turn has room for `bytes` and nobody is waiting; else `go` waits
   * its turn. A part's stream waits for `go` before its next chunk, so its socket stops being read
   * (backpressure) and no bytes are lost or reordered.
   */
  take(bytes: number, go: () => void): void;
}

/** Schedules work for the next turn of the event loop (`setImmediate`; tests pass their own). */
export type NextTurn = (run: () => void) => void;

/**
 * Creates the budget. A turn is counted from the first `take` in it to the next check phase
 * (`setImmediate`), where the count starts again and the parts that waited go on in the order
 * they came, as many as the turn has room for (at least one). A part that goes on and wants more
 * queues behind the others: round robin, so every large upload keeps moving and none can hold
 * the others up, and no turn carries more than its bytes and one chunk.
 */
export function createTurnBudget(
  bytesPerTurn: number = TURN_BYTES,
  nextTurn: NextTurn = (run) => {
    setImmediate(run);
  },
): TurnBudget {
  let taken = 0;
  let turnEnding = false;
  const waiting: { bytes: number; go: () => void }[] = [];
  const endTurnSoon = () => {
    if (turnEnding) return;
    turnEnding = true;
    nextTurn(newTurn);
  };
  const newTurn = () => {
    turnEnding = false;
    taken = 0;
    // Round robin: the parts that waited longest go on first, as many as the turn has room for.
    while (taken < bytesPerTurn) {
      const next = waiting.shift();
      if (!next) break;
      taken += next.bytes;
      next.go();
    }
    if (waiting.length > 0) endTurnSoon();
  };
  return {
    take(bytes, go) {
      endTurnSoon();
      if (taken + bytes <= bytesPerTurn && waiting.length === 0) {
        taken += bytes;
        go();
      } else waiting.push({ bytes, go });
    },
  };
}

/** Whether a request of this declared `Content-Length` shares the turn budget (see LARGE_REQUEST_BYTES). */
export function isLargeRequest(contentLength: string | undefined): boolean {
  if (contentLength === undefined) return true;
  const n = Number(contentLength);
  return !Number.isSafeInteger(n) || n > LARGE_REQUEST_BYTES;
}
