import { createHash, type Hash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { finished, type Readable, Writable } from 'node:stream';
import type multer from 'multer';
import { tooLarge } from '../errors.js';
import { type HeldFile, type HeldSource, SNIFF_BYTES } from './held-file.js';
import type { Spool } from './spool.js';

declare global {
  namespace Express {
    namespace Multer {
      interface File {
        /** Set by the service's storage engine: the part as the service holds it. */
        held?: HeldFile;
      }
    }
  }
}

/**
 * Where one file part goes as it arrives: memory while it fits (MEMORY_BUFFER_FILE_BYTES, and the
 * process's budget has room for each chunk, reserved before it is kept), the request's disk spool
 * otherwise. A part that outgrows memory moves to disk: the chunks held so far are written to the
 * spool file first, then the rest streams after them, and their memory is given back once written.
 * Every chunk is hashed and the first bytes kept either way, so nothing reads the part twice.
 */
class PartSink extends Writable {
  size = 0;
  readonly hash: Hash = createHash('sha256');
  private readonly head: Buffer[] = [];
  /** The chunks held in memory; undefined once the part is on disk (or memory is off). */
  private chunks: Buffer[] | undefined;
  private file: WriteStream | undefined;
  private path: string | undefined;
  /** The whole part, once it has arrived and was held in memory. */
  private bytes: Buffer = Buffer.alloc(0);

  constructor(
    private readonly spool: Spool,
    private readonly maxTotalBytes: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
    if (spool.memory.fileBytes > 0) this.chunks = [];
    // A part that starts after its request ended is refused at its first chunk, with no file made.
    else if (!spool.isReleased) this.openFile();
  }

  /** The part as received (once it has all arrived): its bytes in memory, or the spool file they are in. */
  source(): HeldSource {
    return this.path === undefined ? { bytes: this.bytes } : { path: this.path };
  }

  /** The part's first bytes (up to SNIFF_BYTES), for identifying it. */
  get first(): Buffer {
    return Buffer.concat(this.head);
  }

  private openFile(): WriteStream {
    this.path = this.spool.newPath();
    const file = this.spool.folder.openWrite(this.path);
    // A disk fault (ENOSPC, EIO) fails the part, and with it the upload (SPEC 503 insufficient_storage).
    file.once('error', (e) => this.destroy(e));
    this.file = file;
    return file;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const refusal = this.take(chunk);
    if (refusal !== undefined) {
      done(refusal);
      return;
    }
    // A large request's part asks for its next chunk only while this turn has room (turn-budget.ts).
    const turns = this.spool.turns;
    const next = turns ? () => turns.take(chunk.length, () => done()) : () => done();
    if (this.chunks) {
      next();
    } else {
      const file = this.file ?? this.openFile();
      if (file.write(chunk)) next();
      else file.once('drain', next);
    }
  }

  /** Counts, hashes and (when it fits) holds a chunk; what refuses the part, if anything. */
  private take(chunk: Buffer): Error | undefined {
    // The client is gone and the spool given back: nothing more is kept, in memory or on disk.
    if (this.spool.isReleased) return new Error('the request ended while a file part was arriving');
    // A copy: a view would keep the whole socket chunk alive until the file ends.
    if (this.size < SNIFF_BYTES) this.head.push(Buffer.from(chunk.subarray(0, SNIFF_BYTES - this.size)));
    this.size += chunk.length;
    this.spool.totalBytes += chunk.length;
    if (this.spool.totalBytes > this.maxTotalBytes) return tooLarge('MAX_TOTAL_BYTES', this.maxTotalBytes);
    this.hash.update(chunk);
    if (!this.chunks) return undefined;
    // Reserved before it is kept: racing requests can never hold more than the budget together.
    if (this.size <= this.spool.memory.fileBytes && this.spool.reserve(chunk.length)) {
      this.chunks.push(chunk);
    } else {
      this.spill();
    }
    return undefined;
  }

  /** Moves what memory holds of the part to a spool file; that memory is given back once written. */
  private spill(): void {
    const held = this.chunks ?? [];
    this.chunks = undefined;
    const file = this.openFile();
    const bytes = held.reduce((n, c) => n + c.length, 0);
    for (const [i, c] of held.entries()) {
      // The last write's callback runs once the held bytes are on disk, or with an error when the
      // file failed or was destroyed: either way memory no longer holds them.
      file.write(c, i === held.length - 1 ? () => this.spool.unreserve(bytes) : undefined);
    }
  }

  override _final(done: (e?: Error | null) => void): void {
    const file = this.file;
    if (!file) {
      // One buffer for the part: the body stream encodes it in 3-byte groups without seams.
      this.bytes = Buffer.concat(this.chunks ?? [], this.size);
      this.chunks = undefined;
      done();
      return;
    }
    file.end();
    finished(file, (e) => done(e));
  }

  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    this.chunks = undefined;
    const { file, path } = this;
    if (!file || path === undefined || (file.writableFinished && !error)) {
      done(error);
      return;
    }
    // A part that failed takes its file with it before the failure is reported (multer removes
    // the parts already complete the same way), so no error answer goes out while it exists.
    const remove = () =>
      void unlink(path)
        .then(ignore, ignore)
        .then(() => done(error));
    if (file.closed) {
      remove();
    } else {
      file.once('close', remove);
      file.destroy();
    }
  }
}

const ignore = () => undefined;

/**
 * `source.pipe(sink)` with pipeline's endings: a failure on either side destroys the other with
 * the same error, and `done` runs once the sink has finished and closed, so a failed part's file
 * is already gone. Not `stream.pipeline`: on Node 20 it makes an AbortController for every call
 * and aborts it at the end, and the DOMException (with its stack trace) that abort() builds was
 * about 1% of a small upload's CPU in the service's profile.
 */
function receive(source: Readable, sink: Writable, done: (e?: Error | null) => void): void {
  finished(source, (e) => {
    if (e) sink.destroy(e);
  });
  finished(sink, (e) => {
    if (e) source.destroy(e);
    done(e);
  });
  source.pipe(sink);
}

/**
 * A multer storage engine for one request: holds each file part in memory or streams it to the
 * request's spool (see PartSink), and counts bytes across all files so MAX_TOTAL_BYTES stops the
 * upload mid-stream (multer only has a per-file limit).
 */
export function spoolStorage(spool: Spool, maxTotalBytes: number): multer.StorageEngine {
  return {
    _handleFile(_req, file, cb) {
      // busboy signals a per-file limit on the part's stream; multer's error names only the field.
      file.stream.once('limit', () => {
        spool.limitedFile = file.originalname;
      });
      const sink = new PartSink(spool, maxTotalBytes);
      receive(file.stream, sink, (err) => {
        if (err) return cb(err);
        const held: HeldFile = {
          filename: file.originalname,
          size: sink.size,
          head: sink.first,
          sha256: sink.hash.digest('hex'),
          source: sink.source(),
        };
        cb(null, { held, size: sink.size });
      });
    },
    _removeFile(_req, file, cb) {
      const source = file.held?.source;
      // Memory is given back by the spool when the response closes; only files are removed here.
      if (!source || !('path' in source)) return cb(null);
      unlink(source.path).then(
        () => cb(null),
        () => cb(null),
      );
    },
  };
}
