/** A file that starts like audio but whose audio cannot be read; `reason` says what was wrong. */
export class InvalidAudioError extends Error {
  constructor(readonly reason: string) {
    super(`not readable as audio: ${reason}`);
    this.name = 'InvalidAudioError';
  }
}

/**
 * Refuses the file. Readers write `if (!ok) fail(\`...\`)` rather than an assert helper, so the
 * reason's text is built only when it is needed, not once per frame.
 */
export function fail(reason: string): never {
  throw new InvalidAudioError(reason);
}

/**
 * The lowest sample rate a file may state, in Hz. No standard audio rate is lower than 7350 Hz
 * (AAC's lowest; telephone speech is 8 kHz): taken at its word, a header stating 1 Hz would make
 * 200 KiB of samples last a day and pass any minimum length.
 */
export const MIN_SAMPLE_RATE = 4000;

/** Refuses a stated sample rate under MIN_SAMPLE_RATE; `what` names whose rate it is. */
export function checkSampleRate(rate: number, what: string): void {
  if (!(rate >= MIN_SAMPLE_RATE))
    fail(`${what} states a sample rate of ${rate} Hz, under ${MIN_SAMPLE_RATE} Hz (corrupt)`);
}

/** The length every reader reports: seconds rounded to 3 decimals (SPEC `meta.audio`). */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
