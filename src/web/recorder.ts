// Recording from the microphone: getUserMedia for the sound, MediaRecorder for the file, a Web
// Audio AnalyserNode for the live level.

/** Containers the service accepts, in the order they are preferred (SPEC: webm, ogg/opus, m4a). */
const RECORDER_TYPES = [
  'audio/webm;codecs=opus',
  'audio/ogg;codecs=opus',
  'audio/webm',
  'audio/ogg',
  'audio/mp4',
];
/**
 * MediaRecorder hands over its data once a second rather than once at the end, so a long take is
 * never one buffer inside the recorder; the service reads such timeslice WebM without a duration.
 */
const TIMESLICE_MS = 1000;

/** The file name for the n-th recording: `recording-1.webm`, with the extension of what the browser made. */
export function recordingName(n: number, mimeType: string): string {
  const type = mimeType.split(';')[0]?.trim().toLowerCase() ?? '';
  const ext = type === 'audio/ogg' ? 'ogg' : type === 'audio/mp4' ? 'm4a' : 'webm';
  return `recording-${n}.${ext}`;
}

/** The first container this browser can record, or undefined to take the browser's default. */
export function recorderType(isTypeSupported: (type: string) => boolean): string | undefined {
  return RECORDER_TYPES.find((t) => isTypeSupported(t));
}

/** Why recording cannot start here, before anything is asked of the person; null when it can. */
export function recordingUnavailable(): string | null {
  if (!window.isSecureContext)
    return 'Recording needs this page over HTTPS (or on localhost). You can still pick or drop files.';
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined')
    return 'This browser cannot record audio. You can still pick or drop files.';
  return null;
}

/** What to tell the person when the microphone could not be opened (getUserMedia's DOMException names). */
export function microphoneMessage(error: unknown): string {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return 'The microphone permission was refused. Allow the microphone for this site in the browser to record, or pick or drop files instead.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError')
    return 'No microphone was found. Connect one to record, or pick or drop files instead.';
  if (name === 'NotReadableError' || name === 'AbortError')
    return 'The microphone could not be started (another program may be using it). Try again, or pick or drop files instead.';
  return 'Recording could not start. Pick or drop files instead.';
}

/** A recording in progress. */
export interface Recording {
  /** The container the browser records in (MediaRecorder.mimeType once started). */
  readonly mimeType: string;
  /** Bytes handed over so far. */
  readonly bytes: number;
  /** Ends the recording and frees the microphone; resolves with everything recorded. */
  stop(): Promise<Blob>;
}

/**
 * Asks for the microphone and starts recording. `onLevel` gets the input level (0–1, on a
 * decibel scale) about 60 times a second while it runs. Rejects with getUserMedia's error.
 */
export async function startRecording(onLevel: (level: number) => void): Promise<Recording> {
  // The sample is for a voice clone: the browser's voice-call processing (echo cancellation, noise
  // suppression, automatic gain) changes the voice, so it is asked to leave the sound as it is.
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const release = () => {
    for (const track of stream.getTracks()) track.stop();
  };
  let recorder: MediaRecorder;
  try {
    const mimeType = recorderType((t) => MediaRecorder.isTypeSupported(t));
    recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
  } catch (e) {
    release();
    throw e;
  }

  const chunks: Blob[] = [];
  let bytes = 0;
  recorder.addEventListener('dataavailable', (e) => {
    if (e.data.size === 0) return;
    chunks.push(e.data);
    bytes += e.data.size;
  });
  const stopped = new Promise<void>((resolve) => recorder.addEventListener('stop', () => resolve()));

  const meter = levelMeter(stream, onLevel);
  recorder.start(TIMESLICE_MS);

  return {
    get mimeType() {
      return recorder.mimeType;
    },
    get bytes() {
      return bytes;
    },
    async stop() {
      if (recorder.state !== 'inactive') recorder.stop();
      await stopped;
      meter.close();
      release();
      return new Blob(chunks, { type: recorder.mimeType || chunks[0]?.type || 'audio/webm' });
    },
  };
}

/** Reads the stream's level with an AnalyserNode, once per animation frame, until closed. */
function levelMeter(stream: MediaStream, onLevel: (level: number) => void): { close(): void } {
  let context: AudioContext | undefined;
  let frame = 0;
  try {
    context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      // -60 dBFS (silence, as a meter shows it) … 0 dBFS (full scale) onto 0 … 1.
      const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
      onLevel(Math.min(1, Math.max(0, (db + 60) / 60)));
      frame = requestAnimationFrame(tick);
    };
    tick();
  } catch {
    // No Web Audio: the recording still works, only the meter stays still.
  }
  return {
    close() {
      cancelAnimationFrame(frame);
      onLevel(0);
      void context?.close();
    },
  };
}
