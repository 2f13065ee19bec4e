import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import multer from 'multer';
import { isDomainError, ServiceError, tooLarge } from '../errors.js';
import type { HeldFile } from './held-file.js';
import type { Spool } from './spool.js';
import { spoolStorage } from './storage.js';

/** The limits an upload is read under (SPEC "Configuration"). */
export interface UploadLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
  /** The largest body an acceptable upload can make, framing included. */
  maxRequestBytes: number;
}

/** What the multipart body held: its text fields, and its file parts in arrival order. */
export interface ReceivedUpload {
  fields: Record<string, unknown>;
  files: HeldFile[];
  /** File bytes received, all files together. */
  bytes: number;
}

/** The file fields SPEC accepts; `files[]` is what some form libraries send. */
export const FILE_FIELDS = ['files', 'files[]'] as const;

/** multer's options; its `streamHandler` (multer 2.5) is missing from @types/multer. */
type MulterOptions = multer.Options & {
  streamHandler(req: IncomingMessage, busboy: NodeJS.WritableStream): void;
};

/** multer's error codes and what SPEC calls them (fastify-multipart style: one table). */
const MULTER_ERRORS: Record<
  string,
  (limits: UploadLimits, e: multer.MulterError, spool: Spool) => ServiceError
> = {
  LIMIT_FILE_SIZE: (l, _e, spool) => tooLarge('MAX_FILE_BYTES', l.maxFileBytes, spool.limitedFile),
  LIMIT_FILE_COUNT: (l) => tooLarge('MAX_FILES', l.maxFiles),
  LIMIT_UNEXPECTED_FILE: (_l, e) =>
    new ServiceError('invalid_request', `Unexpected file field "${e.field}"; send files as "files".`, {
      field: e.field,
    }),
  LIMIT_PART_COUNT: () => new ServiceError('invalid_request', 'Too many parts in the form.'),
  LIMIT_FIELD_COUNT: () => new ServiceError('invalid_request', 'Too many fields in the form.'),
  LIMIT_FIELD_KEY: () => new ServiceError('invalid_request', 'A field name is too long.'),
  LIMIT_FIELD_VALUE: (_l, e) =>
    new ServiceError('invalid_request', `The field "${e.field}" is too long.`, { field: e.field }),
  MISSING_FIELD_NAME: () => new ServiceError('invalid_request', 'A form part has no field name.'),
};

/** Storage failures that say "no room or a broken disk", not a bug: SPEC 503 insufficient_storage. */
const STORAGE_FAILURES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE']);

/** How long a client should wait after the spool could not be written. */
const STORAGE_RETRY_AFTER_MS = 30_000;

/** Maps what reading a multipart body threw: our own errors, multer's, storage faults, or busboy's parse errors. */
export function uploadError(err: unknown, limits: UploadLimits, spool: Spool): unknown {
  if (isDomainError(err)) return err;
  if (err instanceof multer.MulterError) {
    return MULTER_ERRORS[err.code]?.(limits, err, spool) ?? new ServiceError('invalid_request', err.message);
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && STORAGE_FAILURES.has(code)) {
    // The cause is kept for the log (SPEC: an error logged), never shown.
    return Object.assign(
      new ServiceError('insufficient_storage', undefined, undefined, {
        retryAfterMs: STORAGE_RETRY_AFTER_MS,
      }),
      { cause: err },
    );
  }
  // Other Node system errors (EACCES…) are ours, not the client's: a 500 with the cause logged.
  if (err instanceof Error && typeof code === 'string') return err;
  // busboy: "Unexpected end of form", "Malformed part header", "Multipart: Boundary not found"…
  const message = err instanceof Error ? err.message : 'unreadable body';
  return new ServiceError('invalid_request', `Malformed multipart body: ${message}.`);
}

/**
 * Cuts the connection once more than `maxBytes` of the request body have arrived: past the size
 * an acceptable upload can have, reading on (to answer or to drop) is not worth the socket.
 */
export function cutBodyPast(req: IncomingMessage, maxBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) req.socket.destroy();
  });
}

/** What is known of an upload before its body is read: its declared type and length. */
export interface UploadHead {
  /** Does the request declare a multipart/form-data body? */
  multipart: boolean;
  /** The declared Content-Length; undefined for a chunked body. */
  contentLength: number | undefined;
}

/**
 * The rules an upload is refused by before a byte of its body is read (SPEC "POST
 * /api/voices/clone": not multipart, a declared size over the limits). The one place they live:
 * the pre-body step applies them, and a client waiting with `Expect: 100-continue` is told no
 * instead of sending the body only to be refused.
 */
export function refuseBeforeBody(head: UploadHead, limits: UploadLimits): ServiceError | undefined {
  if (!head.multipart) {
    return new ServiceError('unsupported_media_type', 'Send the upload as multipart/form-data.');
  }
  // A declared length no acceptable upload can have is refused before a byte is read, rather
  // than read (multer would drain it to its end) only to be refused.
  if (head.contentLength !== undefined && head.contentLength > limits.maxRequestBytes) {
    return tooLarge('MAX_TOTAL_BYTES', limits.maxTotalBytes);
  }
  return undefined;
}

/**
 * Pipeline step: reads a multipart clone request into `spool` (SPEC "POST /api/voices/clone"),
 * each file part held in memory or spooled (see storage.ts). What no acceptable upload can be is
 * refused before this step, by `refuseBeforeBody`.
 */
export async function readUpload(
  req: Request,
  res: Response,
  spool: Spool,
  limits: UploadLimits,
): Promise<ReceivedUpload> {
  const options: MulterOptions = {
    storage: spoolStorage(spool, limits.maxTotalBytes),
    limits: {
      files: limits.maxFiles,
      fileSize: limits.maxFileBytes,
      fields: 16,
      fieldSize: 16 * 1024,
      parts: limits.maxFiles + 16,
      headerPairs: 200,
    },
    // multer 2 decodes non-ASCII filenames as latin1 and cuts them at a backslash unless told
    // otherwise; SPEC wants filenames exactly as typed.
    defParamCharset: 'utf8',
    preservePath: true,
    // After a limit error multer reads the body to its end before answering, so the client is not
    // reset mid-send. A body sent without Content-Length has no end we know of: past the largest
    // size an acceptable upload can have, the connection is cut instead.
    streamHandler(request: IncomingMessage, busboy: NodeJS.WritableStream) {
      cutBodyPast(request, limits.maxRequestBytes);
      request.pipe(busboy);
    },
  };
  const upload = multer(options).fields(FILE_FIELDS.map((name) => ({ name, maxCount: limits.maxFiles })));
  await new Promise<void>((resolve, reject) =>
    upload(req, res, (err?: unknown) => (err ? reject(uploadError(err, limits, spool)) : resolve())),
  );
  const byField = (req.files ?? {}) as Record<string, Express.Multer.File[]>;
  const files = FILE_FIELDS.flatMap((f) => byField[f] ?? []).flatMap((f) => (f.held ? [f.held] : []));
  return { fields: (req.body ?? {}) as Record<string, unknown>, files, bytes: spool.totalBytes };
}
