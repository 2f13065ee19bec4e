import { ServiceError } from '../errors.js';
import { adtsSeconds } from './adts.js';
import { ByteReader } from './byte-reader.js';
import { flacSeconds } from './flac.js';
import { InvalidAudioError, roundSeconds } from './invalid-audio.js';
import { matroskaSeconds } from './matroska.js';
import { mp3Seconds } from './mp3.js';
import { mp4Seconds } from './mp4.js';
import { oggSeconds } from './ogg.js';
import { wavSeconds } from './wav.js';

export { InvalidAudioError } from './invalid-audio.js';

/** Where a file's bytes are: held in memory, or spooled to a file. */
export type AudioSource = { bytes: Buffer } | { path: string };

/** What reading a file's audio established. */
export interface AudioFacts {
  /** Its length, from the frames/packets really in it (not from a header's claim), to 3 decimals. */
  seconds: number;
}

/** One reader per content type that sniff.ts names (SPEC: mp3, wav, m4a/mp4, aac, ogg, webm, flac). */
export const READERS: Readonly<Record<string, (r: ByteReader) => Promise<number>>> = {
  'audio/mpeg': mp3Seconds,
  'audio/wav': wavSeconds,
  'audio/mp4': mp4Seconds,
  'audio/aac': adtsSeconds,
  'audio/ogg': oggSeconds,
  'audio/webm': matroskaSeconds,
  'audio/flac': flacSeconds,
};

/**
 * Reads the audio far enough to know its length; throws InvalidAudioError when it cannot be read
 * (cut short, corrupt, a header followed by junk). A spooled file is read through one 64 KiB
 * window, never whole; each format's reader says in its comment what it checks and where it
 * draws the line between "truncated" and "length from the packets". The signal stops it
 * between reads (an AbortError, not an InvalidAudioError).
 */
export async function readAudioFacts(
  source: AudioSource,
  contentType: string,
  options: { signal?: AbortSignal } = {},
): Promise<AudioFacts> {
  const read = READERS[contentType];
  if (!read) throw new InvalidAudioError(`no reader for ${contentType}`);
  options.signal?.throwIfAborted();
  const reader =
    'bytes' in source
      ? ByteReader.fromBytes(source.bytes, options.signal)
      : await ByteReader.fromFile(source.path, options.signal);
  try {
    if (reader.size === 0) throw new InvalidAudioError('empty file');
    const seconds = await read(reader);
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new InvalidAudioError('no audio (length 0)');
    return { seconds: roundSeconds(seconds) };
  } catch (e) {
    // A reader indexing past what a corrupt file holds is that file's fault, not a bug here.
    if (e instanceof RangeError) throw new InvalidAudioError(`corrupt: ${e.message}`);
    throw e;
  } finally {
    await reader.close();
  }
}

/** The route's answer for a file whose audio cannot be read (SPEC: 400 invalid_audio naming it). */
export function invalidAudio(filename: string, error: InvalidAudioError): ServiceError {
  return new ServiceError('invalid_audio', `"${filename}" could not be read as audio (${error.reason}).`, {
    filename,
  });
}
