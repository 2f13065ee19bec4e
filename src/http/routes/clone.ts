import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AudioMeta } from '../../api/schemas.js';
import { type AudioFile, identifyAudio } from '../../audio/identify-audio.js';
import { type MeasuredFile, measureAudio } from '../../audio/measure-audio.js';
import type { AuditTrail } from '../../audit/audit-trail.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/config.js';
import { normalizeVoice } from '../../normalize/voice.js';
import type { IdempotencyStore } from '../../stores/idempotency.js';
import { withIdempotency } from '../../stores/with-idempotency.js';
import { ATTR, SPAN, withSpan } from '../../tracing/spans.js';
import { createCloneBody } from '../../upload/clone-body.js';
import type { MemoryBudget } from '../../upload/memory-budget.js';
import { readUpload } from '../../upload/read-upload.js';
import { requireConsent } from '../../upload/require-consent.js';
import { Spool } from '../../upload/spool.js';
import type { SpoolFolder } from '../../upload/spool-folder.js';
import { isLargeRequest, type TurnBudget } from '../../upload/turn-budget.js';
import { validateUpload } from '../../upload/validate-upload.js';
import type { TruedyClient } from '../../upstream/truedy-client.js';
import { errorEnvelope } from '../error-handler.js';
import { toHttpError } from '../error-table.js';
import { idempotencyKey } from '../idempotency-key.js';
import { type Lifecycle, trackWork } from '../lifecycle.js';
import type { Metrics } from '../metrics.js';
import { clientKey } from '../middleware/guard.js';
import { auditAnswer, auditFailure, auditRequested } from './clone-audit.js';
import { type Answer, callContext, clientGone, send, voiceAnswer } from './respond.js';

/** What the clone route is composed from. */
export interface CloneRouteDeps {
  config: Config;
  upstream: TruedyClient;
  clock: Clock;
  metrics: Metrics;
  idempotency: IdempotencyStore;
  /** Each clone's audit entries (SPEC "Identity, consent and audit"). */
  audit: AuditTrail;
  /** The process's private spool folder (SPEC "Privacy of uploads"). */
  spoolFolder: Pick<SpoolFolder, 'dir' | 'openWrite'>;
  /** The process's memory allowance: small parts are held there instead of the spool. */
  memoryBudget: MemoryBudget;
  /** Upload bytes large requests take together per turn of the event loop; none: no bound. */
  turnBudget?: TurnBudget;
  /** Where the drain finds work still running for a client that left. */
  lifecycle: Lifecycle;
}

const REPLAY_TTL_MS = 24 * 60 * 60 * 1000;

/** `meta.audio` of the clone's answer: the total and each file's facts (SPEC "POST /api/voices/clone"). */
function audioMeta(seconds: number, files: readonly MeasuredFile[]): AudioMeta {
  return {
    seconds,
    files: files.map((f) => ({
      filename: f.filename,
      content_type: f.contentType,
      bytes: f.size,
      seconds: f.seconds,
    })),
  };
}

/** The idempotency store with each of its calls as an `idempotency` span (claim, store, release). */
function traceStore(store: IdempotencyStore): IdempotencyStore {
  return {
    begin: (...a) => withSpan(SPAN.idempotency, { 'bff.idempotency.op': 'begin' }, () => store.begin(...a)),
    complete: (...a) =>
      withSpan(SPAN.idempotency, { 'bff.idempotency.op': 'complete' }, () => store.complete(...a)),
    release: (...a) =>
      withSpan(SPAN.idempotency, { 'bff.idempotency.op': 'release' }, () => store.release(...a)),
  };
}

/** Same name and same file bytes, in order: the same upload. */
function fingerprint(name: string, files: readonly AudioFile[]): string {
  const h = createHash('sha256').update(name).update('\0');
  for (const f of files) h.update(f.sha256).update('\0');
  return h.digest('hex');
}

/**
 * `POST /api/voices/clone`, composed of named steps (SPEC "POST /api/voices/clone"): read the
 * upload → validate → identify the audio → measure it → consent → idempotency → audit → Truedy →
 * normalize → audit the outcome → answer. Consent comes after the audio checks, so a person first
 * hears what is wrong with a file. Refusals are audited by `auditRefusals` on their way to the
 * error handler.
 */
export function cloneHandler(deps: CloneRouteDeps) {
  const { config, clock } = deps;
  const { retry, upstreamTimeoutMs } = config;
  // A claim outlives the longest a clone can take, so a crashed instance's claim expires on its own.
  const inFlightTtlMs = retry.budgetMs + retry.maxAttempts * upstreamTimeoutMs + 60_000;

  /** The steps, from the request to the answer to send; the held upload is released by the caller. */
  async function handle(
    req: Request,
    res: Response,
    spool: Spool,
    uploadRead: () => void,
  ): Promise<{ answer: Answer; replayed: boolean }> {
    const idemKey = idempotencyKey(req);
    const upload = await withSpan(SPAN.uploadRead, {}, async (span) => {
      const received = await readUpload(req, res, spool, config.limits);
      span.setAttributes({ [ATTR.uploadFiles]: received.files.length, [ATTR.uploadBytes]: received.bytes });
      return received;
    });
    uploadRead();
    res.locals.uploadBytes = upload.bytes;
    // Every upload read is counted, also one refused or replayed after this (its bytes came in).
    deps.metrics.uploadBytes.inc(upload.bytes);
    const request = validateUpload(upload);
    res.locals.cloneFacts = { name: request.name, consent: request.consent, files: request.files };
    const gone = clientGone(res);
    const identified = await withSpan(SPAN.audioIdentify, {}, () => identifyAudio(request.files));
    res.locals.cloneFacts.files = identified;
    const audio = await withSpan(SPAN.audioRead, { [ATTR.uploadFiles]: identified.length }, async (span) => {
      const read = await measureAudio(identified, config.limits, gone);
      span.setAttribute(ATTR.audioSeconds, read.seconds);
      return read;
    });
    const { files } = audio;
    res.locals.cloneFacts.files = files;
    res.locals.audioSeconds = audio.seconds;
    requireConsent(request, config.requireConsent);

    const clone = async (): Promise<Answer> => {
      await auditRequested(deps.audit, req, res);
      const result = await deps.upstream.cloneVoice(
        createCloneBody(request.name, files),
        callContext(res, gone),
      );
      const normalized = normalizeVoice(result.data, request.name, result.receivedAt);
      return voiceAnswer(
        res,
        201,
        normalized,
        result,
        new Date(clock.now()),
        audioMeta(audio.seconds, files),
      );
    };
    if (idemKey === undefined) return { answer: await clone(), replayed: false };

    // Scoped per caller (token or person, else IP): one caller's key never collides with another's.
    const key = createHash('sha256').update(clientKey(req, res)).update('\0').update(idemKey).digest('hex');
    return withIdempotency(
      traceStore(deps.idempotency),
      { key, fingerprint: fingerprint(request.name, files), inFlightTtlMs, replayTtlMs: REPLAY_TTL_MS },
      clone,
      (failure) => {
        const e = toHttpError(failure);
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
  }

  /** One clone from its request to its answer, its outcome audited either way. */
  async function run(req: Request, res: Response): Promise<void> {
    const turns = isLargeRequest(req.headers['content-length']) ? deps.turnBudget : undefined;
    const spool = new Spool(deps.spoolFolder, deps.memoryBudget, turns);
    // A client gone mid-upload: the close releases what it sent at once, before multer's own
    // error arrives. Once the upload is read, an attempt Truedy has whole runs on after the
    // client left, still holding the upload: it is released when the steps end.
    let read = false;
    res.once('close', () => {
      if (!read) void spool.release();
    });
    let result: { answer: Answer; replayed: boolean };
    try {
      // The upload is not needed once Truedy has answered (or the request was refused): it is
      // gone before the answer goes out (SPEC "No spooled upload outlives its request").
      result = await handle(req, res, spool, () => {
        read = true;
      }).finally(() => spool.release());
    } catch (error) {
      // Audited here, inside the work a drain waits for: a client that left is not there to wait.
      await auditFailure(deps.audit, req, res, error);
      throw error;
    }
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    // The outcome is on the trail before the answer goes out (SPEC "Identity, consent and audit").
    await auditAnswer(deps.audit, req, res, result.answer, result.replayed);
    send(res, result.answer);
  }

  // Work a drain waits for, also once its client has left.
  return (req: Request, res: Response) => trackWork(deps.lifecycle, run(req, res));
}
