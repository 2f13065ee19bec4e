import type { Request, Response } from 'express';
import type { Clock } from '../../clock.js';
import { ServiceError } from '../../errors.js';
import { normalizeVoice } from '../../normalize/voice.js';
import type { TruedyClient } from '../../upstream/truedy-client.js';
import { callContext, send, voiceAnswer } from './respond.js';

/** Voice ids longer than this are not Truedy's. */
const MAX_ID_CHARS = 200;

/** `GET /api/voices/:id`: Truedy's voice, normalized; the form polls it while a clone trains. */
export function getVoiceHandler(deps: { upstream: TruedyClient; clock: Clock }) {
  return async (req: Request<{ id: string }>, res: Response) => {
    const id = req.params.id;
    if (!id || id.length > MAX_ID_CHARS) {
      throw new ServiceError(
        'invalid_request',
        `A voice id of at most ${MAX_ID_CHARS} characters is required.`,
      );
    }
    const result = await deps.upstream.getVoice(id, callContext(res));
    const normalized = normalizeVoice(result.data, '', result.receivedAt);
    send(res, voiceAnswer(res, 200, normalized, result, new Date(deps.clock.now())));
  };
}
