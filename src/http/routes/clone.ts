import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import multer from 'multer';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/config.js';
import { normalizeVoice } from '../../normalize/voice.js';
import type { IdempotencyStore } from '../../stores/idempotency.js';
import { createCloneBody, type SpooledAudio } from '../../upload/clone-body.js';
import { ACCEPTED_AUDIO, sniffAudio } from '../../upload/sniff.js';
import { attachSpool, Spool, type SpooledFileInfo, spoolStorage } from '../../upload/spool.js';
import type { TruedyClient } from '../../upstream/truedy-client.js';
import { errorEnvelope, uploadError } from '../error-handler.js';
import { AppError, tooLarge } from '../errors.js';
import { cutBodyPast } from '../linger.js';
import type { Metrics } from '../metrics.js';
import { clientKey } from '../middleware/guard.js';
import { locals } from '../middleware/request-context.js';
import { type Answer, clientGone, send, voiceAnswer } from './respond.js';

/** What the clone handler needs. */
export interface CloneRouteDeps {
  config: Config;
  upstream: TruedyClient;
  clock: Clock;
  metrics: Metrics;
  idempotency: IdempotencyStore;
}

/** A validated clone request: the trimmed name and the spooled, sniffed audio files. */
export interface CloneInput {
  name: string;
  files: (SpooledAudio & { sha256?: string })[];
}

const FILE_FIELDS = ['files', 'files[]'];
const MAX_NAME_CHARS = 100;

/** multer's options; its `streamHandler` (multer 2.5) is missing from @types/multer. */
type MulterOptions = multer.Options & {
  streamHandler(req: Request, busboy: NodeJS.WritableStream): void;
};

/** Reads the multipart body into the spool and validates it (SPEC "POST /api/voices/clone"). */
export function createUploadReader(config: Config) {
  const options: MulterOptions = {
    storage: spoolStorage(),
    limits: {
      files: config.limits.maxFiles,
      fileSize: config.limits.maxFileBytes,
      fields: 16,
      fieldSize: 16 * 1024,
      parts: config.limits.maxFiles + 16,
      headerPairs: 200,
    },
    // multer 2 decodes non-ASCII filenames as latin1 and cuts them at a backslash unless told otherwise;
    // SPEC wants filenames exactly as typed.
    defParamCharset: 'utf8',
    preservePath: true,
    // After a limit error multer reads the body to its end before answering, so the client is not
    // reset mid-send. A body sent without Content-Length has no end we know of: past the largest
    // size an acceptable upload can have, the connection is cut instead.
    streamHandler(req: Request, busboy: NodeJS.WritableStream) {
      cutBodyPast(req, config.limits.maxRequestBytes);
      req.pipe(busboy);
    },
  };
  const upload = multer(options).fields(FILE_FIELDS.map((name) => ({ name, maxCount: config.limits.maxFiles })));

  return async function readUpload(req: Request, res: Response, hashFiles: boolean): Promise<CloneInput> {
    if (!req.is('multipart/form-data')) {
      throw AppError.of('unsupported_media_type', 'Send the upload as multipart/form-data.');
    }
    // A declared length no acceptable upload can have is refused before a byte is read, rather
    // than read (and multer would drain it to its end) only to be refused.
    if (Number(req.headers['content-length']) > config.limits.maxRequestBytes) {
      throw tooLarge('MAX_TOTAL_BYTES', config.limits.maxTotalBytes);
    }
    const spool = attachSpool(req, new Spool(config.uploadDir, config.limits.maxTotalBytes, hashFiles));
    await new Promise<void>((resolve, reject) =>
      upload(req, res, (err?: unknown) => (err ? reject(uploadError(err, config)) : resolve())),
    );
    locals(res).uploadBytes = spool.totalBytes;

    const name = readName(req.body as Record<string, unknown> | undefined);
    const byField = (req.files ?? {}) as Record<string, (Express.Multer.File & SpooledFileInfo)[]>;
    const parts = FILE_FIELDS.flatMap((f) => byField[f] ?? []);
    if (parts.length === 0)
      throw AppError.of('invalid_request', 'Attach at least one audio file as "files".');
    const empty = parts.find((p) => p.size === 0);
    if (empty) {
      throw AppError.of('invalid_request', `The file "${empty.originalname}" is empty.`, {
        filename: empty.originalname,
      });
    }
    const types = await Promise.all(parts.map((p) => sniffAudio(p.path, p.head)));
    const files = parts.map((p, i) => {
      const contentType = types[i];
      if (!contentType) {
        throw AppError.of(
          'unsupported_media_type',
          `"${p.originalname}" is not a recognized audio file (accepted: ${ACCEPTED_AUDIO.join(', ')}).`,
          { filename: p.originalname },
        );
      }
      return { filename: p.originalname, path: p.path, size: p.size, contentType, sha256: p.sha256 };
    });
    return { name, files };
  };
}

function readName(body: Record<string, unknown> | undefined): string {
  const raw = body?.name;
  if (Array.isArray(raw)) throw AppError.of('invalid_request', 'Send "name" once.');
  const name = typeof raw === 'string' ? raw.trim() : '';
  if (!name) throw AppError.of('invalid_request', 'A voice name is required.', { field: 'name' });
  if ([...name].length > MAX_NAME_CHARS) {
    throw AppError.of('invalid_request', `The name may be at most ${MAX_NAME_CHARS} characters.`, {
      field: 'name',
    });
  }
  return name;
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;
const REPLAY_TTL_MS = 24 * 60 * 60 * 1000;
/** Upstream answers worth replaying: the voice, or Truedy's own definitive refusal (SPEC, issue "Operations"). */
const DEFINITIVE = new Set([400, 402, 422]);

/** The optional `Idempotency-Key` (1–255 printable ASCII), or 400. */
function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw AppError.of('invalid_request', 'Idempotency-Key must be 1 to 255 printable ASCII characters.');
  }
  return key;
}

/** Same name and same file bytes, in order: the same upload. */
function fingerprint(input: CloneInput): string {
  const h = createHash('sha256').update(input.name).update('\0');
  for (const f of input.files) h.update(f.sha256 ?? '').update('\0');
  return h.digest('hex');
}

/** `POST /api/voices/clone`: upload → base64 JSON → Truedy (with retries) → normalized voice. */
export function cloneHandler(deps: CloneRouteDeps) {
  const readUpload = createUploadReader(deps.config);
  const { retry, upstreamTimeoutMs } = deps.config;
  // A claim outlives the longest a clone can take, so a crashed instance's claim expires on its own.
  const inFlightTtlMs = retry.budgetMs + retry.maxAttempts * upstreamTimeoutMs + 60_000;

  async function clone(res: Response, input: CloneInput): Promise<Answer> {
    deps.metrics.uploadBytes.inc(input.files.reduce((n, f) => n + f.size, 0));
    const l = locals(res);
    const result = await deps.upstream.cloneVoice(createCloneBody(input.name, input.files), {
      requestId: l.requestId,
      signal: clientGone(res),
      log: l.log,
    });
    l.upstreamAttempts = result.attempts;
    const { voice, unknownStatus } = normalizeVoice(result.data, input.name, result.receivedAt);
    return voiceAnswer(res, 201, voice, result, unknownStatus, new Date(deps.clock.now()));
  }

  return async (req: Request, res: Response) => {
    const idemKey = idempotencyKey(req);
    const input = await readUpload(req, res, idemKey !== undefined);
    if (idemKey === undefined) return send(res, await clone(res, input));

    // Scoped per caller (token, else IP): one caller's key never collides with another's.
    const key = createHash('sha256').update(clientKey(req, res)).update('\0').update(idemKey).digest('hex');
    const fp = fingerprint(input);
    const found = await deps.idempotency.begin(key, fp, inFlightTtlMs);
    if (found.state !== 'started') {
      if (found.fingerprint !== fp) throw AppError.of('idempotency_key_reuse');
      if (found.state === 'in_flight') throw AppError.of('idempotency_conflict');
      res.setHeader('Idempotent-Replayed', 'true');
      return send(res, found.response);
    }
    // Storing the answer must never cost the caller the answer itself: the voice exists and
    // credits were spent (SPEC), so a store failure is logged, not returned.
    const store = (answer: Answer) =>
      deps.idempotency.complete(key, found.owner, fp, answer, REPLAY_TTL_MS).catch((error: unknown) => {
        locals(res).log.error(
          { err: { message: (error as Error).message } },
          'could not store the idempotent answer',
        );
      });
    let answer: Answer;
    try {
      answer = await clone(res, input);
    } catch (error) {
      if (error instanceof AppError && DEFINITIVE.has(error.status)) {
        const body = errorEnvelope(error, locals(res).requestId, new Date(deps.clock.now()));
        await store({ status: error.status, body, headers: error.headers ?? {} });
      } else {
        await deps.idempotency.release(key, found.owner).catch(() => undefined);
      }
      throw error;
    }
    await store(answer);
    send(res, answer);
  };
}
