/** Process state the probes and the drain read. */
export interface Lifecycle {
  draining: boolean;
  /**
   * Work still running for a request, its client connected or not (a clone Truedy has whole runs
   * to its answer after its client left): a drain waits for it (SPEC "Operations").
   */
  readonly work: Set<Promise<unknown>>;
}

/** A lifecycle that is not draining and has no work. */
export function createLifecycle(): Lifecycle {
  return { draining: false, work: new Set() };
}

/** Counts `work` as in flight until it settles; returns it. */
export function trackWork<T>(lifecycle: Lifecycle, work: Promise<T>): Promise<T> {
  lifecycle.work.add(work);
  const done = () => lifecycle.work.delete(work);
  work.then(done, done);
  return work;
}

/** Resolves once all work in flight has settled, or after `timeoutMs`: true when it all did. */
export async function workSettled(lifecycle: Lifecycle, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
  });
  try {
    while (lifecycle.work.size > 0) {
      const all = Promise.allSettled([...lifecycle.work]).then(() => true);
      if (!(await Promise.race([all, timeout]))) return false;
    }
    return true;
  } finally {
    clearTimeout(timer);
  }
}
