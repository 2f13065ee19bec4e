import { ServiceError } from '../errors.js';
import { InvalidAudioError, invalidAudio, readAudioFacts } from './audio-facts.js';
import type { AudioFile } from './identify-audio.js';
import { roundSeconds } from './invalid-audio.js';

/** An identified file whose audio was read: its length in seconds, from the frames really in it. */
export interface MeasuredFile extends AudioFile {
  seconds: number;
}

/** The total audio length a clone must have (SPEC MIN_AUDIO_SECONDS / MAX_AUDIO_SECONDS; 0 = no limit). */
export interface AudioLimits {
  minAudioSeconds: number;
  maxAudioSeconds: number;
}

/**
 * Pipeline step "audio facts" (SPEC "POST /api/voices/clone"): reads each file's audio far enough
 * to know its length, before anything is spent. A file that looks like audio but cannot be read
 * is 400 invalid_audio naming it; a total outside the limits is 422 audio_too_short or
 * audio_too_long. Files are read one after another, so a request holds one reader's working
 * memory at a time.
 */
export async function measureAudio(
  files: readonly AudioFile[],
  limits: AudioLimits,
  signal?: AbortSignal,
): Promise<{ files: MeasuredFile[]; seconds: number }> {
  const measured: MeasuredFile[] = [];
  for (const file of files) {
    try {
      const { seconds } = await readAudioFacts(file.source, file.contentType, { signal });
      measured.push({ ...file, seconds });
    } catch (error) {
      if (error instanceof InvalidAudioError) throw invalidAudio(file.filename, error);
      throw error;
    }
  }
  const seconds = roundSeconds(measured.reduce((total, f) => total + f.seconds, 0));
  if (limits.minAudioSeconds > 0 && seconds < limits.minAudioSeconds) {
    throw new ServiceError(
      'audio_too_short',
      `The audio is ${seconds} s long; a clone needs at least ${limits.minAudioSeconds} s.`,
      { seconds, limit: limits.minAudioSeconds },
    );
  }
  if (limits.maxAudioSeconds > 0 && seconds > limits.maxAudioSeconds) {
    throw new ServiceError(
      'audio_too_long',
      `The audio is ${seconds} s long; a clone takes at most ${limits.maxAudioSeconds} s.`,
      { seconds, limit: limits.maxAudioSeconds },
    );
  }
  return { files: measured, seconds };
}
