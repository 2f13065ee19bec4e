import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { createMemoryBudget, type MemoryBudget } from './memory-budget.js';
import type { SpoolFolder } from './spool-folder.js';
import type { TurnBudget } from './turn-budget.js';

/**
 * What one request holds while it lives: file parts kept in memory (reserved against the process's
 * budget) and files spooled to disk. `release()` gives both back and is called when the response
 * closes, whatever the ending (SPEC "No spooled upload outlives its request").
 */
export class Spool {
  private readonly paths = new Set<string>();
  private released = false;
  /** Bytes this request has reserved from the memory budget and not given back yet. */
  private memoryBytes = 0;
  /** Bytes of file parts received so far, across all files (MAX_TOTAL_BYTES counts these). */
  totalBytes = 0;
  /** The file being received when a per-file limit was hit, so the 413 can name it. */
  limitedFile: string | undefined;

  constructor(
    readonly folder: Pick<SpoolFolder, 'dir' | 'openWrite'>,
    /** The process's memory budget; none given: every part is spooled. */
    readonly memory: MemoryBudget = createMemoryBudget({ fileBytes: 0, totalBytes: 0 }),
    /** The process's per-turn allowance, for a large request's parts; none: never held back. */
    readonly turns?: TurnBudget,
  ) {}

  /** A fresh path in the process's private folder, tracked for deletion. */
  newPath(): string {
    const p = path.join(this.folder.dir, `upload-${randomBytes(12).toString('hex')}`);
    this.paths.add(p);
    // A file part can still be arriving when the client has gone: delete it as soon as it is created.
    if (this.released) void this.release();
    return p;
  }

  /**
   * Reserves `n` bytes of memory for this request, if the process's budget has them. Once the
   * request is over nothing more is granted: a part still arriving goes to disk and is deleted.
   */
  reserve(n: number): boolean {
    if (this.released || !this.memory.tryReserve(n)) return false;
    this.memoryBytes += n;
    return true;
  }

  /** Gives back `n` reserved bytes early (a part moved to disk); a no-op once released. */
  unreserve(n: number): void {
    const r = Math.min(n, this.memoryBytes);
    this.memoryBytes -= r;
    this.memory.release(r);
  }

  /** Gives back the memory and deletes every spooled file; safe to call more than once. */
  async release(): Promise<void> {
    this.released = true;
    this.unreserve(this.memoryBytes);
    const all = [...this.paths];
    this.paths.clear();
    await Promise.all(all.map((p) => unlink(p).catch(() => undefined)));
  }

  get isReleased(): boolean {
    return this.released;
  }
}
