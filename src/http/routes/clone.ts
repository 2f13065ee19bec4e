import type { Request, Response } from 'express';
import multer from 'multer';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/config.js';
import { normalizeVoice } from '../../normalize/voice.js';
import { createCloneBody, type SpooledAudio } from '../../upload/clone-body.js';
import { ACCEPTED_AUDIO, sniffAudio } from '../../upload/sniff.js';
import { attachSpool, Spool, type SpooledFileInfo, spoolStorage } from '../../upload/spool.js';
import type { TruedyClient } from '../../upstream/truedy-client.js';
import { uploadError } from '../error-handler.js';
import { AppError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { locals } from '../middleware/request-context.js';
import { clientGone, sendVoice } from './respond.js';

/** What the clone handler needs. */
export interface CloneRouteDeps {
  config: Config;
  upstream: TruedyClient;
  clock: Clock;
  metrics: Metrics;
}

/** A validated clone request: the trimmed name and the spooled, sniffed audio files. */
export interface CloneInput {
  name: string;
  files: (SpooledAudio & { sha256?: string })[];
}

const FILE_FIELDS = ['files', 'files[]'];
const MAX_NAME_CHARS = 100;

/** Reads the multipart body into the spool and validates it (SPEC "POST /api/voices/clone"). */
export function createUploadReader(config: Config) {
  const upload = multer({
    storage: spoolStorage(),
    limits: {
      files: config.maxFiles,
      fileSize: config.maxFileBytes,
      fields: 16,
      fieldSize: 16 * 1024,
      parts: config.maxFiles + 16,
      headerPairs: 200,
    },
    // multer 2 decodes non-ASCII filenames as latin1 and cuts them at a backslash unless told otherwise;
    // SPEC wants filenames exactly as typed.
    defParamCharset: 'utf8',
    preservePath: true,
  }).fields(FILE_FIELDS.map((name) => ({ name, maxCount: config.maxFiles })));

  return async function readUpload(req: Request, res: Response, hashFiles: boolean): Promise<CloneInput> {
    if (!req.is('multipart/form-data')) {
      throw AppError.of('unsupported_media_type', 'Send the upload as multipart/form-data.');
    }
    const spool = attachSpool(req, new Spool(config.uploadDir, config.maxTotalBytes, hashFiles));
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
    const types = await Promise.all(parts.map((p) => sniffAudio(p.path)));
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

/** `POST /api/voices/clone`: upload → base64 JSON → Truedy (with retries) → normalized voice. */
export function cloneHandler(deps: CloneRouteDeps) {
  const readUpload = createUploadReader(deps.config);
  return async (req: Request, res: Response) => {
    const input = await readUpload(req, res, false);
    deps.metrics.uploadBytes.inc(input.files.reduce((n, f) => n + f.size, 0));
    const l = locals(res);
    const result = await deps.upstream.cloneVoice(createCloneBody(input.name, input.files), {
      requestId: l.requestId,
      signal: clientGone(res),
      log: l.log,
    });
    l.upstreamAttempts = result.attempts;
    const { voice, unknownStatus } = normalizeVoice(result.data, input.name, result.receivedAt);
    sendVoice(res, 201, voice, result, unknownStatus, new Date(deps.clock.now()));
  };
}
