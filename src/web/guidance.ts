// How much audio makes a good clone, and the server's own length limits, as the page says them.
// Pure functions (no DOM), so they are unit-tested without a browser.

/**
 * ElevenLabs, behind Truedy's clones, asks for at least a minute of clean speech, 1–2 minutes in
 * all, and says more than 3 minutes barely helps (issue 13).
 */
export const GOOD_AUDIO = { atLeast: 60, enough: 180 } as const;

/** The part of the page's settings that bounds the total length (0 = no limit, as on the server). */
export interface AudioLimits {
  minAudioSeconds: number;
  maxAudioSeconds: number;
}

/** A length as people read it: tenths of a second under a minute, m:ss above. */
export function formatSeconds(seconds: number): string {
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')} min`;
}

/** A limit as people read it ("30 s", "2:00 min"). */
function formatLimit(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : formatSeconds(seconds);
}

/**
 * A total set against a limit, in seconds as the server's settings and refusals give them, with
 * as many decimals as it takes not to read as the limit itself (29.97 s against 30 s, not 30.0 s).
 */
function against(total: number, limit: number): string {
  for (const digits of [1, 2, 3]) {
    const text = total.toFixed(digits);
    if (Number(text) !== limit) return `${text} s`;
  }
  return `${total} s`;
}

/** What the page says about the total: a short verdict and whether it is a warning. */
export interface Guidance {
  text: string;
  warn: boolean;
}

/**
 * The line under the file list: the total against the guidance, the server's limits when set,
 * and how many files could not be measured in this browser (the server measures them anyway).
 */
export function guidance(totalSeconds: number, fileCount: number, unmeasured: number, limits: AudioLimits) {
  const parts: string[] = [];
  let warn = false;
  if (fileCount === 0) {
    parts.push('Aim for 1–2 minutes of clean speech from one speaker, in one or more files.');
  } else {
    parts.push(`Total: ${formatSeconds(totalSeconds)} of audio.`);
    if (totalSeconds < GOOD_AUDIO.atLeast) {
      parts.push('Under a minute: 1–2 minutes of clean speech gives a better voice.');
      warn = true;
    } else if (totalSeconds <= GOOD_AUDIO.enough) {
      parts.push('Good: 1–2 minutes of clean speech gives the best voice.');
    } else {
      parts.push('More than 3 minutes rarely makes the voice better.');
    }
    if (unmeasured > 0)
      parts.push(
        unmeasured === 1
          ? 'One file could not be measured in this browser; the server will check it.'
          : `${unmeasured} files could not be measured in this browser; the server will check them.`,
      );
  }
  const { minAudioSeconds: min, maxAudioSeconds: max } = limits;
  if (min > 0 && max > 0)
    parts.push(`This service needs ${formatLimit(min)} to ${formatLimit(max)} of audio in all.`);
  else if (min > 0) parts.push(`This service needs at least ${formatLimit(min)} of audio in all.`);
  else if (max > 0) parts.push(`This service takes at most ${formatLimit(max)} of audio in all.`);
  return { text: parts.join(' '), warn } satisfies Guidance;
}

/**
 * The server's MIN_AUDIO_SECONDS / MAX_AUDIO_SECONDS checks (SPEC 422 audio_too_short/long), run
 * before anything is sent. Only a certain refusal is made here: while some file's length is
 * unknown in this browser, the total may be longer than it looks, so "too short" is left to the
 * server; "too long" is certain already.
 */
export function lengthProblems(totalSeconds: number, unmeasured: number, limits: AudioLimits): string[] {
  const { minAudioSeconds: min, maxAudioSeconds: max } = limits;
  if (max > 0 && totalSeconds > max)
    return [`The audio adds up to ${against(totalSeconds, max)}; at most ${max} s is allowed.`];
  if (min > 0 && unmeasured === 0 && totalSeconds < min)
    return [`The audio adds up to ${against(totalSeconds, min)}; at least ${min} s is needed.`];
  return [];
}
