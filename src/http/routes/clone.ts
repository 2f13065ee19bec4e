import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { type AudioFile, identifyAudio } from '../../audio/identify-audio.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/config.js';
import { ServiceError } from '../../errors.js';
import { normalizeVoice } from '../../normalize/voice.js';
import type { IdempotencyStore } from '../../stores/idempotency.js';
import { withIdempotency } from '../../stores/with-idempotency.js';
import { createCloneBody } from '../../upload/clone-body.js';
import type { MemoryBudget } from '../../upload/memory-budget.js';
import { readUpload } from '../../upload/read-upload.js';
import { requireConsent } from '../../upload/require-consent.js';
import { Spool } from '../../upload/spool.js';
import type { SpoolFolder } from '../../upload/spool-folder.js';
import { validateUpload } from '../../upload/validate-upload.js';
import type { TruedyClient } from '../../upstream/truedy-client.js';
import { errorEnvelope } from '../error-handler.js';
import { toHttpError } from '../error-table.js';
import type { Metrics } from '../metrics.js';
import { clientKey } from '../middleware/guard.js';
import { type Answer, clientGone, send, voiceAnswer } from './respond.js';

/** What the clone route is composed from. */
export interface CloneRouteDeps {
  config: Config;
  upstream: TruedyClient;
  clock: Clock;
  metrics: Metrics;
  idempotency: IdempotencyStore;
  /** The process's private spool folder (SPEC "Privacy of uploads"). */
  spoolFolder: Pick<SpoolFolder, 'dir' | 'openWrite'>;
  /** The process's memory allowance: small parts are held there instead of the spool. */
  memoryBudget: MemoryBudget;
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;
const REPLAY_TTL_MS = 24 * 60 * 60 * 1000;

/** The optional `Idempotency-Key` (1–255 printable ASCII), or 400. */
function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ServiceError('invalid_request', 'Idempotency-Key must be 1 to 255 printable ASCII characters.');
  }
  return key;
}

/** Same name and same file bytes, in order: the same upload. */
function fingerprint(name: string, files: readonly AudioFile[]): string {
  const h = createHash('sha256').update(name).update('\0');
  for (const f of files) h.update(f.sha256).update('\0');
  return h.digest('hex');
}

/**
 * `POST /api/voices/clone`, composed of named steps (SPEC "POST /api/voices/clone"): read the
 * upload → validate → consent → identify the audio → idempotency → Truedy → normalize → answer.
 */
export function cloneHandler(deps: CloneRouteDeps) {
  const { config, clock } = deps;
  const { retry, upstreamTimeoutMs } = config;
  // A claim outlives the longest a clone can take, so a crashed instance's claim expires on its own.
  const inFlightTtlMs = retry.budgetMs + retry.maxAttempts * upstreamTimeoutMs + 60_000;

  return async (req: Request, res: Response) => {
    const idemKey = idempotencyKey(req);
    const spool = new Spool(deps.spoolFolder, deps.memoryBudget);
    res.once('close', () => void spool.release());

    const upload = await readUpload(req, res, spool, config.limits);
    res.locals.uploadBytes = upload.bytes;
    const request = validateUpload(upload);
    requireConsent(request, config.requireConsent);
    const files = await identifyAudio(request.files);

    const clone = async (): Promise<Answer> => {
      deps.metrics.uploadBytes.inc(upload.bytes);
      const result = await deps.upstream.cloneVoice(createCloneBody(request.name, files), {
        requestId: res.locals.requestId,
        signal: clientGone(res),
        log: res.locals.log,
      });
      res.locals.upstreamAttempts = result.attempts;
      const normalized = normalizeVoice(result.data, request.name, result.receivedAt);
      return voiceAnswer(res, 201, normalized, result, new Date(clock.now()));
    };
    if (idemKey === undefined) return send(res, await clone());

    // Scoped per caller (token, else IP): one caller's key never collides with another's.
    const key = createHash('sha256').update(clientKey(req, res)).update('\0').update(idemKey).digest('hex');
    const { answer, replayed } = await withIdempotency(
      deps.idempotency,
      { key, fingerprint: fingerprint(request.name, files), inFlightTtlMs, replayTtlMs: REPLAY_TTL_MS },
      clone,
      (refusal) => {
        const e = toHttpError(refusal);
        return {
          status: e.status,
          headers: e.headers,
          body: errorEnvelope(e, res.locals.requestId, new Date(clock.now())),
        };
      },
      (error) =>
        res.locals.log.error(
          { err: { message: (error as Error).message } },
          'could not store the idempotent answer',
        ),
    );
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    send(res, answer);
  };
}
