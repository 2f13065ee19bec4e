import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { SpoolFolder } from './spool-folder.js';

/**
 * The files one request spooled to disk. `release()` deletes them all and is called when the
 * response closes, whatever the ending (SPEC "No spooled upload outlives its request").
 */
export class Spool {
  private readonly paths = new Set<string>();
  private released = false;
  /** Bytes of file parts received so far, across all files (MAX_TOTAL_BYTES counts these). */
  totalBytes = 0;
  /** The file being received when a per-file limit was hit, so the 413 can name it. */
  limitedFile: string | undefined;

  constructor(readonly folder: Pick<SpoolFolder, 'dir' | 'openWrite'>) {}

  /** A fresh path in the process's private folder, tracked for deletion. */
  newPath(): string {
    const p = path.join(this.folder.dir, `upload-${randomBytes(12).toString('hex')}`);
    this.paths.add(p);
    // A file part can still be arriving when the client has gone: delete it as soon as it is created.
    if (this.released) void this.release();
    return p;
  }

  /** Deletes every spooled file; safe to call more than once. */
  async release(): Promise<void> {
    this.released = true;
    const all = [...this.paths];
    this.paths.clear();
    await Promise.all(all.map((p) => unlink(p).catch(() => undefined)));
  }

  get isReleased(): boolean {
    return this.released;
  }
}
