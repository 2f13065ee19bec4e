// How long a file's audio is, found in the browser by decoding it.
//
// Decoding is the reliable way: a MediaRecorder WebM carries no duration in its header, so an
// <audio> element reports Infinity for it, and a VBR MP3 without a Xing header reports a guess.
// decodeAudioData reads the samples that are really there.

/**
 * The rate the decoded audio is resampled to. Only its length is wanted, so a low rate keeps the
 * decoded floats small (3 minutes of stereo: 11.5 MB at 8 kHz, 63 MB at 44.1 kHz) and the length
 * stays exact to 1/8000 s.
 */
const MEASURE_RATE = 8000;
/** How long the <audio> fallback may take to read a file's metadata. */
const ELEMENT_TIMEOUT_MS = 5000;

let queue: Promise<unknown> = Promise.resolve();

/**
 * The file's length in seconds, or null when this browser cannot read it (the server measures it
 * anyway). Files are decoded one at a time, so picking many never holds many decoded files at once.
 */
export function measureSeconds(file: Blob, url: string): Promise<number | null> {
  const run = queue.then(() => decodedSeconds(file, url));
  queue = run.catch(() => undefined);
  return run;
}

async function decodedSeconds(file: Blob, url: string): Promise<number | null> {
  try {
    const context = new OfflineAudioContext(1, 1, MEASURE_RATE);
    const decoded = await context.decodeAudioData(await file.arrayBuffer());
    return decoded.duration;
  } catch {
    // Some browsers decode fewer formats in Web Audio than they play: ask a media element.
    return elementSeconds(url);
  }
}

/** The duration an <audio> element reads from the file's metadata, when it is a finite number. */
function elementSeconds(url: string): Promise<number | null> {
  return new Promise((resolve) => {
    const element = new Audio();
    element.preload = 'metadata';
    const done = (value: number | null) => {
      window.clearTimeout(timer);
      element.removeAttribute('src');
      element.load();
      resolve(value);
    };
    const timer = window.setTimeout(() => done(null), ELEMENT_TIMEOUT_MS);
    element.addEventListener('loadedmetadata', () =>
      done(Number.isFinite(element.duration) && element.duration > 0 ? element.duration : null),
    );
    element.addEventListener('error', () => done(null));
    element.src = url;
  });
}
