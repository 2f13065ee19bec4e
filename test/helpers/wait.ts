// Waiting for events and state, always with a deadline: no test waits for a time.
import { filesIn } from './fixtures.js';

/** A promise and the function that resolves it: hold a fake's answer (`until`) and let it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Starts a request now and keeps its outcome for later. A test that fails before it awaits the
 * outcome then fails cleanly, instead of ending the run on an unhandled rejection.
 */
export function inFlight<T>(request: PromiseLike<T>): Promise<T> {
  const outcome = Promise.resolve(request);
  outcome.catch(() => undefined);
  return outcome;
}

/**
 * Polls `check` every few ms until it holds; throws after `timeoutMs` naming `what`. For state with
 * no event to wait on (a folder emptying, a log line written when a response closes).
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, everyMs = 5 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits (within `timeoutMs`) for `dir` to be empty; returns what is left, so tests `expect(...).toEqual([])`. */
export async function waitForEmptyDir(dir: string, timeoutMs = 2000): Promise<string[]> {
  await waitUntil(`${dir} to empty`, () => filesIn(dir).length === 0, { timeoutMs }).catch(() => undefined);
  return filesIn(dir);
}
