import { ServiceError } from '../errors.js';
import type { HeldFile } from '../upload/held-file.js';
import { ACCEPTED_AUDIO, sniffAudio } from './sniff.js';

/** A held file whose bytes were recognized as audio. */
export interface AudioFile extends HeldFile {
  /** The type found in the file's own bytes, sent to Truedy as `content_type`. */
  contentType: string;
}

/** Pipeline step: names each file's audio type from its bytes, or refuses the first that is not audio (415). */
export async function identifyAudio(files: readonly HeldFile[]): Promise<AudioFile[]> {
  const types = await Promise.all(files.map((f) => sniffAudio(f.head, f.source)));
  return files.map((f, i) => {
    const contentType = types[i];
    if (!contentType) {
      throw new ServiceError(
        'unsupported_media_type',
        `"${f.filename}" is not a recognized audio file (accepted: ${ACCEPTED_AUDIO.join(', ')}).`,
        { filename: f.filename },
      );
    }
    return { ...f, contentType };
  });
}
