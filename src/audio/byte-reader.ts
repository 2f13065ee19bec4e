import { type FileHandle, open } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** How much of a spooled file one read brings in: the reader's whole working buffer. */
export const WINDOW_BYTES = 64 * 1024;

/**
 * After this many bytes handed out, the reader gives the event loop a turn (and checks the
 * signal), so a large file held in memory never blocks other requests for long.
 */
const YIELD_BYTES = 512 * 1024;

/**
 * Random access to a file's bytes through one bounded window: a file on disk is read
 * WINDOW_BYTES at a time at the position asked for (never whole), bytes in memory are handed out
 * as views. Every format reader goes forward through its file, so each byte is fetched about once.
 */
export class ByteReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  private sinceYield = 0;

  private constructor(
    /** The file's length in bytes. */
    readonly size: number,
    private readonly file: FileHandle | null,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** A reader over bytes held in memory. */
  static fromBytes(bytes: Buffer, signal?: AbortSignal): ByteReader {
    const reader = new ByteReader(bytes.length, null, signal);
    reader.window = bytes;
    return reader;
  }

  /** A reader over a file; its size is the file's own (what is really there to read). */
  static async fromFile(path: string, signal?: AbortSignal): Promise<ByteReader> {
    const file = await open(path, 'r');
    try {
      return new ByteReader((await file.stat()).size, file, signal);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  /**
   * The bytes at [position, position + length) when the window already holds them (always, for
   * bytes in memory), else undefined: then `read` them. Lets the format readers' hot loops go
   * through a window without an await per frame.
   */
  view(position: number, length: number): Buffer | undefined {
    const at = this.span(position, length);
    return at < 0 ? undefined : this.window.subarray(at, at + Math.min(length, this.size - position));
  }

  /**
   * Where [position, position + length) starts in `buffer` when the window holds it, else -1:
   * `view` without making a view, for loops that run once per packet.
   */
  span(position: number, length: number): number {
    const end = Math.min(position + length, this.size);
    if (position < this.windowStart || end > this.windowStart + this.window.length || end <= position)
      return -1;
    this.sinceYield += end - position;
    if (this.sinceYield > YIELD_BYTES) return -1; // read() gives the event loop its turn
    return position - this.windowStart;
  }

  /** The window `span` gives offsets into (valid until the next `read`). */
  get buffer(): Buffer {
    return this.window;
  }

  /**
   * `length` bytes at `position` (fewer only where the file ends). The view is valid until the
   * next call; `length` may exceed WINDOW_BYTES (a box or page read whole), at that cost.
   */
  async read(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.size);
    if (end <= position) return Buffer.alloc(0);
    this.sinceYield += end - position;
    if (this.sinceYield > YIELD_BYTES) {
      this.sinceYield = 0;
      await nextTurn(undefined, { signal: this.signal });
    }
    if (this.file === null) return this.window.subarray(position, end);
    if (position < this.windowStart || end > this.windowStart + this.window.length) {
      this.signal?.throwIfAborted();
      const want = Math.min(Math.max(end - position, WINDOW_BYTES), this.size - position);
      const fresh = this.window.length >= want ? this.window : Buffer.allocUnsafe(want);
      const { bytesRead } = await this.file.read(fresh, 0, want, position);
      this.window = fresh.subarray(0, bytesRead);
      this.windowStart = position;
    }
    return this.window.subarray(position - this.windowStart, end - this.windowStart);
  }

  /**
   * Counts `bytes` walked without being read (samples of a codec that is not checked) toward the
   * event loop's turn, as `read` counts what it hands out: undefined while no turn is due, else
   * the turn to await.
   */
  skip(bytes: number): Promise<void> | undefined {
    this.sinceYield += bytes;
    if (this.sinceYield <= YIELD_BYTES) return undefined;
    this.sinceYield = 0;
    return nextTurn(undefined, { signal: this.signal }).then(() => undefined);
  }

  /**
   * A copy of [position, position + length) in a buffer of its own, read without disturbing the
   * window: for a structure kept while the file is walked (an MP4 moov, a WebM Tracks).
   */
  async copy(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.size);
    if (end <= position) return Buffer.alloc(0);
    if (this.file === null) return Buffer.from(this.window.subarray(position, end));
    this.signal?.throwIfAborted();
    const out = Buffer.allocUnsafe(end - position);
    const { bytesRead } = await this.file.read(out, 0, out.length, position);
    return out.subarray(0, bytesRead);
  }

  /** Releases the file (if any). */
  async close(): Promise<void> {
    await this.file?.close();
  }
}
