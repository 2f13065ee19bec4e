import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type multer from 'multer';
import { tooLarge } from '../errors.js';
import { type HeldFile, SNIFF_BYTES } from './held-file.js';
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
 * A multer storage engine for one request: streams each file part to the request's spool,
 * hashing it and keeping its first bytes as they pass, and counts bytes across all files so
 * MAX_TOTAL_BYTES stops the upload mid-stream (multer only has a per-file limit).
 */
export function spoolStorage(spool: Spool, maxTotalBytes: number): multer.StorageEngine {
  return {
    _handleFile(_req, file, cb) {
      // busboy signals a per-file limit on the part's stream; multer's error names only the field.
      file.stream.once('limit', () => {
        spool.limitedFile = file.originalname;
      });
      const target = spool.newPath();
      const hash = createHash('sha256');
      let size = 0;
      const head: Buffer[] = [];
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          // A copy: a view would keep the whole socket chunk alive until the file ends.
          if (size < SNIFF_BYTES) head.push(Buffer.from(chunk.subarray(0, SNIFF_BYTES - size)));
          size += chunk.length;
          spool.totalBytes += chunk.length;
          if (spool.totalBytes > maxTotalBytes) return done(tooLarge('MAX_TOTAL_BYTES', maxTotalBytes));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      pipeline(file.stream, meter, spool.folder.openWrite(target)).then(
        () => {
          const held: HeldFile = {
            filename: file.originalname,
            size,
            head: Buffer.concat(head),
            sha256: hash.digest('hex'),
            source: { path: target },
          };
          cb(null, { held, size });
        },
        (err) => cb(err),
      );
    },
    _removeFile(_req, file, cb) {
      const source = file.held?.source;
      if (!source || !('path' in source)) return cb(null);
      unlink(source.path).then(
        () => cb(null),
        () => cb(null),
      );
    },
  };
}
