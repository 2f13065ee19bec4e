import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import type multer from 'multer';
import { tooLarge } from '../http/errors.js';
import { SNIFF_BYTES } from './sniff.js';

/**
 * The files one request spooled to disk. `release()` deletes them all and is called when the
 * response closes, whatever the ending (SPEC "No spooled upload outlives its request").
 */
export class Spool {
  private readonly paths = new Set<string>();
  private released = false;
  totalBytes = 0;

  constructor(
    readonly dir: string,
    readonly maxTotalBytes: number,
    /** Hash file bytes as they arrive (only needed for Idempotency-Key fingerprints). */
    readonly hashFiles: boolean,
  ) {}

  /** A fresh path in the spool folder, tracked for deletion. */
  newPath(): string {
    const p = path.join(this.dir, `truedy-upload-${randomUUID()}`);
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

const SPOOL = Symbol('spool');

/** Attaches a spool to the request; it is released when the response closes. */
export function attachSpool(req: Request, spool: Spool): Spool {
  (req as unknown as Record<symbol, Spool>)[SPOOL] = spool;
  req.res?.once('close', () => void spool.release());
  return spool;
}

function spoolOf(req: Request): Spool {
  const s = (req as unknown as Record<symbol, Spool | undefined>)[SPOOL];
  if (!s) throw new Error('spool storage used without attachSpool()');
  return s;
}

/** Extra fields multer keeps for each spooled file. */
export interface SpooledFileInfo {
  path: string;
  size: number;
  sha256?: string;
  /** The first bytes (up to SNIFF_BYTES), so sniffing needs no second read of the file. */
  head: Buffer;
}

/**
 * A multer storage engine that streams each file part to the spool folder, counting bytes across
 * all files of the request so MAX_TOTAL_BYTES stops the upload mid-stream (multer only has a
 * per-file limit).
 */
export function spoolStorage(): multer.StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const spool = spoolOf(req);
      const target = spool.newPath();
      const hash = spool.hashFiles ? createHash('sha256') : undefined;
      let size = 0;
      const head: Buffer[] = [];
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          // A copy: a view would keep the whole socket chunk alive until the file ends.
          if (size < SNIFF_BYTES) head.push(Buffer.from(chunk.subarray(0, SNIFF_BYTES - size)));
          size += chunk.length;
          spool.totalBytes += chunk.length;
          if (spool.totalBytes > spool.maxTotalBytes) {
            return done(tooLarge('MAX_TOTAL_BYTES', spool.maxTotalBytes));
          }
          hash?.update(chunk);
          done(null, chunk);
        },
      });
      // 64 KiB lets a few of busboy's chunks gather into one write: fewer fs round trips, same memory.
      pipeline(file.stream, meter, createWriteStream(target, { flags: 'wx', highWaterMark: 64 * 1024 })).then(
        () => {
          const info: SpooledFileInfo = { path: target, size, head: Buffer.concat(head) };
          if (hash) info.sha256 = hash.digest('hex');
          cb(null, info);
        },
        (err) => cb(err),
      );
    },
    _removeFile(_req, file, cb) {
      unlink(file.path).then(
        () => cb(null),
        () => cb(null),
      );
    },
  };
}
