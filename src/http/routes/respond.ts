import type { Response } from 'express';
import type { Voice } from '../../normalize/voice.js';
import type { StoredResponse } from '../../stores/idempotency.js';
import type { UpstreamSuccess } from '../../upstream/truedy-client.js';
import { AppError } from '../errors.js';
import { locals } from '../middleware/request-context.js';

/** An AbortSignal that fires when the client goes away before the answer is written (SPEC: cancels waits and attempts). */
export function clientGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

/** An answer as it is sent: the same shape an idempotency record keeps and replays. */
export type Answer = StoredResponse;

/** A normalized voice in SPEC's envelope, or 502 upstream_invalid_response when upstream gave no id. */
export function voiceAnswer(
  res: Response,
  status: number,
  voice: Voice | null,
  result: UpstreamSuccess,
  unknownStatus: unknown,
  now: Date,
): Answer {
  const l = locals(res);
  const headers = { 'X-Upstream-Attempts': String(result.attempts) };
  if (!voice) {
    l.log.error({ upstream_status: result.status }, 'Truedy answered 2xx without a voice id');
    throw AppError.of('upstream_invalid_response', 'Truedy answered without a voice id.', undefined, headers);
  }
  if (unknownStatus !== undefined)
    l.log.warn({ upstream_status_value: unknownStatus }, 'unknown voice status');
  return {
    status,
    headers,
    body: {
      data: voice,
      meta: { request_id: l.requestId, upstream_request_id: result.upstreamRequestId, ts: now.toISOString() },
    },
  };
}

/** Writes an answer. */
export function send(res: Response, answer: Answer): void {
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  res.status(answer.status).json(answer.body);
}
