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

/** The length every reader reports: seconds rounded to 3 decimals (SPEC `meta.audio`). */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
