// What a describe block starts for its tests and must stop after them, whatever the tests did.
import { afterAll, beforeAll } from '@jest/globals';

/** Something a test starts and stops: a server, a browser, a service. */
export interface Closable {
  close(): Promise<unknown>;
}

/** Closes each of `things` in turn, skipping those never started (a beforeAll that failed part-way). */
export async function closeAll(...things: (Closable | undefined)[]): Promise<void> {
  for (const thing of things) await thing?.close();
}

/**
 * For a describe block: returns `keep`, which hands back what it is given and closes it after the
 * block's tests, so a server a test starts outlives no failed assertion.
 */
export function closeAfterAll(): <T extends Closable>(thing: T) => T {
  const kept: Closable[] = [];
  afterAll(() => Promise.all(kept.map((k) => k.close())));
  return (thing) => {
    kept.push(thing);
    return thing;
  };
}

/**
 * Something a describe block starts before its tests (`start`) and stops after them (`stop`);
 * the function returned gives the running one inside a test, and throws outside one.
 */
export function suiteResource<T>(start: () => Promise<T>, stop: (running: T) => Promise<unknown>): () => T {
  let current: T | undefined;
  beforeAll(async () => {
    current = await start();
  });
  afterAll(async () => {
    if (current !== undefined) await stop(current);
  });
  return () => {
    if (current === undefined)
      throw new Error('a suite resource used outside a test (or it failed to start)');
    return current;
  };
}
