import { fileTypeFromBuffer, fileTypeFromFile } from 'file-type';
import type { HeldSource } from '../upload/held-file.js';

/**
 * The content type Truedy gets for each audio format SPEC lists, keyed by file-type's `ext`.
 * file-type names WebM `video/webm` and plain MP4 `video/mp4` even when they hold only audio,
 * so the type is chosen here from the container, not copied from file-type's `mime`.
 */
const AUDIO_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  mp4: 'audio/mp4',
  aac: 'audio/aac',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  webm: 'audio/webm',
  flac: 'audio/flac',
};

/** The audio formats accepted, for messages and the form page. */
export const ACCEPTED_AUDIO = ['mp3', 'wav', 'm4a', 'aac', 'ogg', 'opus', 'webm', 'flac'] as const;

/** Maps a file-type detection to the content type sent upstream, or null when it is not accepted audio. */
export function audioContentType(detected: { ext: string; mime: string } | undefined): string | null {
  return detected ? (AUDIO_TYPES[detected.ext] ?? null) : null;
}

/**
 * Names a file's audio type from its own bytes; the browser's claim is not used (SPEC). The
 * leading bytes kept while receiving usually suffice; when they do not (an MP3 whose ID3 tag is
 * larger than the sample), the whole file is read.
 */
export async function sniffAudio(head: Buffer, source: HeldSource): Promise<string | null> {
  const fromHead = audioContentType(await fileTypeFromBuffer(head));
  if (fromHead) return fromHead;
  const whole =
    'bytes' in source ? await fileTypeFromBuffer(source.bytes) : await fileTypeFromFile(source.path);
  return audioContentType(whole);
}
