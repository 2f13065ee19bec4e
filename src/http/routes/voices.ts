import type { Request, Response } from 'express';
import type { Clock } from '../../clock.js';
import { normalizeVoice } from '../../normalize/voice.js';
import type { TruedyClient } from '../../upstream/truedy-client.js';
import { AppError } from '../errors.js';
import { locals } from '../middleware/request-context.js';
import { clientGone, send, voiceAnswer } from './respond.js';

/** `GET /api/voices/:id`: Truedy's voice, normalized; the form polls it while a clone trains. */
export function getVoiceHandler(deps: { upstream: TruedyClient; clock: Clock }) {
  return async (req: Request<{ id: string }>, res: Response) => {
    const id = req.params.id;
    if (!id || id.length > 200)
      throw AppError.of('invalid_request', 'A voice id of at most 200 characters is required.');
    const l = locals(res);
    const result = await deps.upstream.getVoice(id, {
      requestId: l.requestId,
      signal: clientGone(res),
      log: l.log,
    });
    l.upstreamAttempts = result.attempts;
    const { voice, unknownStatus } = normalizeVoice(result.data, '', result.receivedAt);
    send(res, voiceAnswer(res, 200, voice, result, unknownStatus, new Date(deps.clock.now())));
  };
}
