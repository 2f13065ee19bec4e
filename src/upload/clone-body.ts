import { closeSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { HeldSource } from './held-file.js';

/** One file of the body: its name and type as sent, and where its bytes are held. */
export interface BodyFile {
  filename: string;
  contentType: string;
  size: number;
  source: HeldSource;
}

/** Bytes of standard base64 (with padding, no line breaks) for `n` input bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * A JSON string literal for any text. JSON.stringify already escapes quotes, backslashes, control
 * characters and lone surrogates; U+2028/U+2029 are legal JSON (RFC 8259) but not legal in older
 * JavaScript string literals, so they are escaped too.
 */
export function jsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * Encoding slice: 12 KiB in, 16 KiB of base64 out. Node 20 makes each piece a V8 string before it
 * is copied into the output buffer; small young-generation strings encode fastest (about 6 GB/s
 * here against 4 GB/s for 48 KiB pieces and under 1 GB/s for 192 KiB ones, which land in
 * large-object space).
 */
const ENCODE_SLICE = 3 * 4 * 1024;

/** Base64 of `bytes[from, to)` written into `out` at `at`, slice by slice; the bytes written. */
function encodeInto(bytes: Buffer, from: number, to: number, out: Buffer, at: number): number {
  let written = 0;
  for (let i = from; i < to; i += ENCODE_SLICE) {
    written += out.write(bytes.toString('base64', i, Math.min(to, i + ENCODE_SLICE)), at + written, 'latin1');
  }
  return written;
}

/** Disk read size: 48 KiB in, one 64 KiB buffer out; a multiple of 3, so a full read carries nothing over. */
export const READ_CHUNK = 3 * 16 * 1024;

/** Reads up to `length` bytes of `fd` into `buffer` at `offset`; `fs.readSync` unless a test injects short reads. */
export type ReadFn = (fd: number, buffer: Buffer, offset: number, length: number) => number;

const readNext: ReadFn = (fd, buffer, offset, length) => readSync(fd, buffer, offset, length, null);

/**
 * Truedy's clone body, streamed from the spooled files: known length, reproducible for every retry.
 * A body wholly in memory and no longer than MEMORY_BATCH opens as one buffer, not a stream: it
 * would go out as one chunk anyway, and got writes a buffer straight to its request.
 */
export interface CloneBody {
  contentLength: number;
  open(): Readable | Buffer;
}

/** A piece of the body: JSON framing held in memory, or a spooled file to encode. */
type Segment = Buffer | BodyFile;

/** Framing, or a file held in memory: what is encoded without a read. */
const isHeld = (s: Segment): boolean => Buffer.isBuffer(s) || 'bytes' in s.source;

/** The bytes of a file held in memory. */
const heldBytes = (f: BodyFile): Buffer => (f.source as { bytes: Buffer }).bytes;

/** A stretch of a segment in memory: framing whole, or a held file's bytes [from, to). */
interface Piece {
  s: Segment;
  from: number;
  to: number;
}

/** The pieces' output, framing as it is and held files as base64, in one buffer of `size` bytes. */
function encodePieces(pieces: readonly Piece[], size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let written = 0;
  for (const { s, from, to } of pieces) {
    written += Buffer.isBuffer(s) ? s.copy(out, written) : encodeInto(heldBytes(s), from, to, out, written);
  }
  return out;
}

/**
 * Output bytes one turn of the event loop produces at most from what is in memory (JSON framing
 * and files held in memory): one chunk instead of a stream of small ones, so a small upload goes
 * upstream in one write through got's and http's stream layers. About a quarter of a millisecond
 * of encoding, so other requests are still served in between. A multiple of 4: whole base64 groups.
 */
export const MEMORY_BATCH = 1024 * 1024;

/**
 * One pass over the body. What is held in memory (the framing, files kept in memory) is encoded
 * in batches of up to MEMORY_BATCH. A spooled file was written moments ago by this process, so
 * its pages are in the page cache and a synchronous read is a memory copy: cheaper than a
 * thread-pool round trip per read. One 48 KiB read per turn of the event loop keeps other
 * requests (and /healthz) served in between.
 */
class CloneBodyStream extends Readable {
  private index = 0;
  private fd = -1;
  /** Read position in the current file held in memory. */
  private offset = 0;
  /** Bytes of the current file not read yet. */
  private left = 0;
  /** Bytes (0–2) read but not yet encoded: base64 works in groups of 3. */
  private carry = 0;
  private readonly input = Buffer.allocUnsafe(READ_CHUNK);
  private scheduled = false;

  constructor(
    private readonly segments: readonly Segment[],
    private readonly readFile: ReadFn,
  ) {
    super();
  }

  override _read(): void {
    if (this.scheduled) return;
    // What memory holds is sent at once (a batch is a fraction of a millisecond of work): a small
    // upload then goes upstream in the same turn as the request is made, not one turn later.
    const next = this.segments[this.index];
    if (next !== undefined && isHeld(next)) {
      this.produce();
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // Destroyed while this turn was pending (the request was aborted): opening the file now
      // would leak its descriptor, since _destroy has already run.
      if (!this.destroyed) this.produce();
    });
  }

  /** Produces one chunk (or the end) per turn. */
  private produce(): void {
    try {
      while (this.index < this.segments.length) {
        const s = this.segments[this.index] as Segment;
        // Inline rather than isHeld: the file branch below needs `s.source` narrowed to a path.
        if (Buffer.isBuffer(s) || 'bytes' in s.source) {
          this.push(this.encodeMemory());
          return;
        }
        if (this.fd < 0) {
          this.fd = openSync(s.source.path, 'r');
          this.left = s.size;
          this.carry = 0;
        } else if (this.left > 0 || this.carry > 0) {
          this.push(this.encodeNext());
          return;
        } else {
          this.closeFile();
          this.index++;
        }
      }
      this.push(null);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  /** The framing and held files from here on, up to MEMORY_BATCH bytes of output, in one buffer. */
  private encodeMemory(): Buffer {
    // Plan first, so the output is allocated once at its exact size.
    const plan: Piece[] = [];
    let size = 0;
    let offset = this.offset;
    for (let i = this.index; i < this.segments.length && size < MEMORY_BATCH; i++) {
      const s = this.segments[i] as Segment;
      if (Buffer.isBuffer(s)) {
        plan.push({ s, from: 0, to: s.length });
        size += s.length;
      } else if ('bytes' in s.source) {
        const room = Math.floor((MEMORY_BATCH - size) / 4) * 3;
        if (room === 0) break;
        const to = Math.min(s.source.bytes.length, offset + room);
        plan.push({ s, from: offset, to });
        size += base64Length(to - offset);
        if (to < s.source.bytes.length) break;
      } else {
        break;
      }
      offset = 0;
    }
    const out = encodePieces(plan, size);
    // Every piece is one segment, and only the last can stop short of its segment's end.
    const last = plan[plan.length - 1];
    const cut = last !== undefined && !Buffer.isBuffer(last.s) && last.to < heldBytes(last.s).length;
    this.index += cut ? plan.length - 1 : plan.length;
    this.offset = cut ? last.to : 0;
    return out;
  }

  /** Reads the next piece of the current file and encodes every whole 3-byte group of it. */
  private encodeNext(): Buffer {
    const input = this.input;
    const n = this.left
      ? this.readFile(this.fd, input, this.carry, Math.min(READ_CHUNK - this.carry, this.left))
      : 0;
    // The Content-Length is already promised: a file that shrank cannot be sent as announced.
    if (n === 0 && this.left > 0) throw new Error('a spooled upload is shorter than when it was received');
    this.left -= n;
    const available = this.carry + n;
    const whole = this.left === 0 ? available : available - (available % 3);
    const out = Buffer.allocUnsafe(base64Length(whole));
    encodeInto(input, 0, whole, out, 0);
    this.carry = available - whole;
    input.copyWithin(0, whole, available);
    return out;
  }

  private closeFile(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.closeFile();
    callback(error);
  }
}

/**
 * Builds `{"name":…,"files":[{"filename":…,"data":"<base64>","content_type":…},…]}` as a stream.
 * Only the JSON framing is held in memory; file bytes are read and encoded as they are sent.
 */
export function createCloneBody(
  name: string,
  files: readonly BodyFile[],
  read: ReadFn = readNext,
): CloneBody {
  const segments: Segment[] = [Buffer.from(`{"name":${jsonString(name)},"files":[`)];
  files.forEach((f, i) => {
    segments.push(
      Buffer.from(`${i ? ',' : ''}{"filename":${jsonString(f.filename)},"data":"`),
      f,
      Buffer.from(`","content_type":${jsonString(f.contentType)}}`),
    );
  });
  segments.push(Buffer.from(']}'));
  const contentLength = segments.reduce(
    (n, s) => n + (Buffer.isBuffer(s) ? s.length : base64Length(s.size)),
    0,
  );
  if (segments.every(isHeld) && contentLength <= MEMORY_BATCH) {
    const whole = segments.map((s) => ({
      s,
      from: 0,
      to: Buffer.isBuffer(s) ? s.length : heldBytes(s).length,
    }));
    return { contentLength, open: () => encodePieces(whole, contentLength) };
  }
  return { contentLength, open: () => new CloneBodyStream(segments, read) };
}
