import type { Response } from 'express';
import type { AudioMeta, CloneEnvelope, VoiceEnvelope } from '../../api/schemas.js';
import { CallerGone, ServiceError } from '../../errors.js';
import type { NormalizeResult } from '../../normalize/voice.js';
import type { StoredResponse } from '../../stores/idempotency.js';
import type { CallContext, UpstreamSuccess } from '../../upstream/truedy-client.js';

/** An AbortSignal that fires (with CallerGone) when the client goes away before the answer is written. */
export function clientGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new CallerGone());
  });
  return controller.signal;
}

/**
 * A Truedy call's context for this request: its id, its logger, the signal of its client going,
 * and the attempts begun kept on the request, for its log line (written when the client goes, which
 * may be before the call ends).
 */
export function callContext(res: Response, signal: AbortSignal = clientGone(res)): CallContext {
  return {
    requestId: res.locals.requestId,
    signal,
    log: res.locals.log,
    onAttempt: (n) => {
      res.locals.upstreamAttempts = n;
    },
  };
}

/** An answer as it is sent: the same shape an idempotency record keeps and replays. */
export type Answer = StoredResponse;

/**
 * Pipeline step "answer": a normalized voice in SPEC's envelope, with `meta.audio` for a clone;
 * 502 upstream_invalid_response when upstream gave no id (the voice may exist, so it is logged).
 */
export function voiceAnswer(
  res: Response,
  status: number,
  normalized: NormalizeResult,
  result: UpstreamSuccess,
  now: Date,
  audio?: AudioMeta,
): Answer {
  const { log, requestId } = res.locals;
  const { voice, unknownStatus } = normalized;
  if (!voice) {
    log.error({ upstream_status: result.status }, 'Truedy answered 2xx without a voice id');
    throw new ServiceError('upstream_invalid_response', 'Truedy answered without a voice id.', undefined, {
      attempts: result.attempts,
      voiceMayExist: true,
    });
  }
  if (unknownStatus !== undefined) log.warn({ upstream_status_value: unknownStatus }, 'unknown voice status');
  const meta = {
    request_id: requestId,
    upstream_request_id: result.upstreamRequestId,
    ts: now.toISOString(),
  };
  const body: VoiceEnvelope | CloneEnvelope = audio
    ? { data: voice, meta: { ...meta, audio } }
    : { data: voice, meta };
  return { status, headers: { 'X-Upstream-Attempts': String(result.attempts) }, body };
}

/** Writes an answer. */
export function send(res: Response, answer: Answer): void {
  res.set(answer.headers).status(answer.status).json(answer.body);
}
