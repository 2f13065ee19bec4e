// The upload form's script (served as /assets/form.js; no inline script, so helmet's CSP stays on).
// It calls the same POST /api/voices/clone any client uses and holds no secret.

import type { PageSettings } from '../api/page-settings.js';
import type { CloneEnvelope, ErrorEnvelope, VoiceEnvelope } from '../api/schemas.js';
import { formatBytes as human } from '../format-bytes.js';
import type { Voice } from '../normalize/voice.js';
import { formatSeconds, guidance, lengthProblems } from './guidance.js';
import { measureSeconds } from './measure.js';
import {
  microphoneMessage,
  type Recording,
  recordingName,
  recordingUnavailable,
  startRecording,
} from './recorder.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const body = document.body;
/** The server's own limits, injected into the page (one definition, in the server's config). */
const limits = JSON.parse(body.dataset.settings ?? '{}') as PageSettings;
const MAX_POLLS = 60;

const form = $<HTMLFormElement>('clone-form');
const nameInput = $<HTMLInputElement>('voice-name');
const fileInput = $<HTMLInputElement>('voice-files');
const list = $<HTMLUListElement>('file-list');
const total = $<HTMLParagraphElement>('total');
const consent = $<HTMLInputElement>('consent');
const errorBox = $<HTMLParagraphElement>('form-error');
const submit = $<HTMLButtonElement>('submit');
const progressBox = $<HTMLDivElement>('progress-box');
const progress = $<HTMLProgressElement>('upload-progress');
const progressLabel = $<HTMLLabelElement>('progress-label');
const phase = $<HTMLParagraphElement>('phase');
const result = $<HTMLElement>('result');
const recordButton = $<HTMLButtonElement>('record');
const recordLive = $<HTMLDivElement>('rec-live');
const recordTime = $<HTMLSpanElement>('rec-time');
const recordLevel = $<HTMLMeterElement>('rec-level');
const recordError = $<HTMLParagraphElement>('record-error');
const recordStatus = $<HTMLParagraphElement>('record-status');

/** One file in the list, picked, dropped or recorded, with its player and its measured length. */
interface Entry {
  file: File;
  /** Object URL the player plays; revoked when the entry is removed. */
  url: string;
  /** undefined while measuring; null when this browser could not read it. */
  seconds: number | null | undefined;
  measured: Promise<void>;
  item: HTMLLIElement;
  facts: HTMLSpanElement;
}

let entries: Entry[] = [];
let pollTimer: number | undefined;

/** The phase the page is in, for people (text) and for tests (data-phase). */
function setPhase(name: string, text: string) {
  body.dataset.phase = name;
  phase.textContent = text;
}

/** Same checks as the server, so most mistakes are caught before any byte is sent. */
function problems(files: File[]): string[] {
  const out: string[] = [];
  if (files.length > limits.maxFiles) out.push(`Choose at most ${limits.maxFiles} files.`);
  let bytes = 0;
  for (const f of files) {
    bytes += f.size;
    const ext = f.name.includes('.') ? (f.name.split('.').pop() ?? '').toLowerCase() : '';
    if (f.size === 0) out.push(`"${f.name}" is empty.`);
    else if (f.size > limits.maxFileBytes)
      out.push(`"${f.name}" is ${human(f.size)}; each file may be at most ${human(limits.maxFileBytes)}.`);
    if (!limits.accept.includes(ext) && !f.type.startsWith('audio/'))
      out.push(`"${f.name}" does not look like audio (${limits.accept.join(', ')}).`);
  }
  if (bytes > limits.maxTotalBytes)
    out.push(`The files add up to ${human(bytes)}; at most ${human(limits.maxTotalBytes)} together.`);
  return out;
}

function showErrors(messages: string[]) {
  errorBox.textContent = messages.join('\n');
}

/** The measured total, and how many files this browser could not measure or is still measuring. */
function lengths() {
  let seconds = 0;
  let unmeasured = 0;
  let pending = 0;
  for (const e of entries) {
    if (typeof e.seconds === 'number') seconds += e.seconds;
    else if (e.seconds === null) unmeasured += 1;
    else pending += 1;
  }
  return { seconds, unmeasured, pending };
}

function factsText(e: Entry): string {
  const length =
    e.seconds === undefined ? 'measuring…' : e.seconds === null ? 'length unknown' : formatSeconds(e.seconds);
  return `${human(e.file.size)} · ${length}`;
}

/** Refreshes what depends on the whole list: the total against the guidance, and the problems. */
function refresh() {
  const { seconds, unmeasured } = lengths();
  const line = guidance(seconds, entries.length, unmeasured, limits);
  total.textContent = line.text;
  total.classList.toggle('warn', line.warn);
  showErrors(problems(entries.map((e) => e.file)));
}

function removeEntry(entry: Entry) {
  entries = entries.filter((e) => e !== entry);
  URL.revokeObjectURL(entry.url);
  entry.item.remove();
  refresh();
  fileInput.focus();
}

/**
 * A MediaRecorder WebM has no duration in its header, so Chromium's player shows none and no seek
 * bar until it has played to the end. Seeking far past the end once makes it read to the end and
 * learn the length (Chromium issue 642012); then it goes back to the start.
 */
function showFullLength(player: HTMLAudioElement) {
  player.addEventListener(
    'loadedmetadata',
    () => {
      if (player.duration !== Number.POSITIVE_INFINITY) return;
      player.addEventListener('durationchange', () => (player.currentTime = 0), { once: true });
      player.currentTime = Number.MAX_SAFE_INTEGER;
    },
    { once: true },
  );
}

function addEntry(file: File) {
  const url = URL.createObjectURL(file);
  const item = document.createElement('li');
  const head = document.createElement('div');
  head.className = 'file-head';
  const name = document.createElement('span');
  name.className = 'file-name';
  name.textContent = file.name;
  const facts = document.createElement('span');
  facts.className = 'file-facts';
  head.append(name, document.createTextNode(' — '), facts);
  const player = document.createElement('audio');
  player.controls = true;
  player.preload = 'metadata';
  player.src = url;
  player.setAttribute('aria-label', `Play ${file.name}`);
  showFullLength(player);
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'remove';
  remove.textContent = 'Remove';
  remove.setAttribute('aria-label', `Remove ${file.name}`);
  item.append(head, remove, player);

  const entry: Entry = { file, url, seconds: undefined, measured: Promise.resolve(), item, facts };
  entry.measured = measureSeconds(file, url).then(
    (s) => {
      entry.seconds = s;
    },
    () => {
      entry.seconds = null;
    },
  );
  // Removed before its length arrived: nothing to show.
  void entry.measured.then(() => {
    if (!entries.includes(entry)) return;
    facts.textContent = factsText(entry);
    item.dataset.seconds = entry.seconds == null ? '' : String(entry.seconds);
    refresh();
  });
  remove.addEventListener('click', () => removeEntry(entry));
  facts.textContent = factsText(entry);
  entries.push(entry);
  list.append(item);
}

function addFiles(files: FileList | null) {
  if (!files) return;
  for (const f of Array.from(files)) addEntry(f);
  refresh();
}

fileInput.addEventListener('change', () => {
  addFiles(fileInput.files);
  fileInput.value = '';
});
window.addEventListener('dragover', (e) => {
  e.preventDefault();
  body.classList.add('dragging');
});
window.addEventListener('dragleave', () => body.classList.remove('dragging'));
window.addEventListener('drop', (e) => {
  e.preventDefault();
  body.classList.remove('dragging');
  addFiles(e.dataTransfer?.files ?? null);
});

// ---- Recording from the microphone ----

let recording: Recording | undefined;
let recordingStarted = 0;
let recordingTimer: number | undefined;
let recordings = 0;
/** A recording stops on its own before it outgrows one file's limit (a few seconds' margin). */
const SIZE_MARGIN_SECONDS = 3;

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function beginRecording() {
  recordError.textContent = '';
  const unavailable = recordingUnavailable();
  if (unavailable) {
    recordError.textContent = unavailable;
    return;
  }
  recordButton.disabled = true;
  recordButton.textContent = 'Waiting for the microphone…';
  try {
    recording = await startRecording((level) => {
      recordLevel.value = level;
    });
  } catch (e) {
    recordButton.disabled = false;
    recordButton.textContent = 'Record from microphone';
    recordError.textContent = microphoneMessage(e);
    return;
  }
  recordingStarted = performance.now();
  recordTime.textContent = '0:00';
  recordLive.hidden = false;
  recordButton.disabled = false;
  recordButton.textContent = 'Stop recording';
  recordButton.classList.add('recording');
  body.dataset.recording = 'on';
  recordStatus.textContent = 'Recording. Press Stop recording to finish.';
  recordingTimer = window.setInterval(() => {
    const elapsed = performance.now() - recordingStarted;
    recordTime.textContent = clock(elapsed);
    const rate = recording ? recording.bytes / Math.max(1, elapsed / 1000) : 0;
    if (recording && recording.bytes + rate * SIZE_MARGIN_SECONDS >= limits.maxFileBytes) {
      void endRecording(`The recording stopped at ${human(limits.maxFileBytes)}, the limit for one file.`);
    }
  }, 250);
}

async function endRecording(note = '') {
  const current = recording;
  if (!current) return;
  recording = undefined;
  window.clearInterval(recordingTimer);
  recordButton.disabled = true;
  const blob = await current.stop();
  recordLive.hidden = true;
  recordButton.disabled = false;
  recordButton.textContent = 'Record from microphone';
  recordButton.classList.remove('recording');
  delete body.dataset.recording;
  if (blob.size === 0) {
    recordError.textContent = 'Nothing was recorded. Check the microphone and try again.';
    return;
  }
  recordings += 1;
  const file = new File([blob], recordingName(recordings, blob.type), { type: blob.type });
  addEntry(file);
  refresh();
  recordError.textContent = note;
  recordStatus.textContent = `${file.name} added to the list.`;
}

recordButton.addEventListener('click', () => {
  if (recording) void endRecording();
  else void beginRecording();
});

// ---- Consent ----

consent.required = limits.requireConsent;
$('consent-required').hidden = !limits.requireConsent;

// ---- The voice, once created ----

function showVoice(v: Voice) {
  $('v-name').textContent = v.name;
  $('v-id').textContent = v.id;
  const status = $('v-status');
  status.textContent = v.status;
  status.className = `status ${v.status}`;
  $('v-type').textContent = v.type;
  $('v-language').textContent = v.language ?? '—';
  const row = $('v-preview-row');
  row.hidden = !v.preview_url;
  if (v.preview_url) $<HTMLAnchorElement>('v-preview').href = v.preview_url;
  result.hidden = false;
}

/** The server's own measurement of what it sent (meta.audio), when it reports one. */
function showAudio(audio: CloneEnvelope['meta']['audio']) {
  const label = $('v-audio-label');
  const value = $('v-audio');
  label.hidden = value.hidden = !audio;
  if (audio) {
    const n = audio.files.length;
    value.textContent = `${formatSeconds(audio.seconds)} in ${n} ${n === 1 ? 'file' : 'files'}`;
  }
}

/** While a clone trains, ask a few seconds apart, a bounded number of times. */
function poll(id: string, left: number) {
  if (left <= 0) return setPhase('poll-stopped', 'Still training; reload later to see the final status.');
  pollTimer = window.setTimeout(async () => {
    try {
      const res = await fetch(`/api/voices/${encodeURIComponent(id)}`, {
        headers: { accept: 'application/json' },
      });
      if (res.ok) {
        const voice = ((await res.json()) as VoiceEnvelope).data;
        showVoice(voice);
        if (voice.status !== 'training') return setPhase('settled', `The voice is ${voice.status}.`);
      }
    } catch {
      // A failed poll is retried at the next tick.
    }
    poll(id, left - 1);
  }, limits.pollMs);
}
window.addEventListener('pagehide', () => window.clearTimeout(pollTimer));

function errorText(status: number, text: string, retryAfter: string | null): string {
  let message = `The request failed (HTTP ${status}).`;
  try {
    message = (JSON.parse(text) as ErrorEnvelope).error.message ?? message;
  } catch {
    // Not our JSON (a proxy's page): keep the generic message.
  }
  if (status === 429 && retryAfter) message += ` Please wait ${retryAfter} seconds before trying again.`;
  return message;
}

// ---- Submit ----

/** What stops a submit, checked in the browser with the server's numbers; the control to fix first. */
async function refusals(name: string): Promise<{ issues: string[]; focus?: HTMLElement }> {
  if (recording) return { issues: ['Stop the recording first.'], focus: recordButton };
  const issues: string[] = [];
  let focus: HTMLElement | undefined;
  if (!name) {
    issues.push('Enter a name for the voice.');
    focus = nameInput;
  }
  const fileIssues = problems(entries.map((e) => e.file));
  if (entries.length === 0) fileIssues.push('Choose at least one audio file, or record one.');
  if (fileIssues.length === 0) {
    if (lengths().pending > 0) {
      setPhase('measuring', 'Measuring the audio…');
      await Promise.all(entries.map((e) => e.measured));
    }
    const { seconds, unmeasured } = lengths();
    fileIssues.push(...lengthProblems(seconds, unmeasured, limits));
  }
  if (fileIssues.length) {
    issues.push(...fileIssues);
    focus ??= fileInput;
  }
  if (limits.requireConsent && !consent.checked) {
    issues.push("Tick the box to confirm you have the speaker's permission to clone this voice.");
    focus ??= consent;
  }
  return { issues, focus };
}

function send(name: string) {
  const data = new FormData();
  data.append('name', name);
  if (consent.checked) data.append('consent', 'true');
  for (const e of entries) data.append('files', e.file, e.file.name);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/voices/clone');
  // A fresh key per submit: a double click or a resent request cannot clone twice.
  xhr.setRequestHeader('Idempotency-Key', crypto.randomUUID());
  let announced = 0;
  xhr.upload.addEventListener('progress', (ev) => {
    if (!ev.lengthComputable) return;
    const percent = Math.round((ev.loaded / ev.total) * 100);
    progress.value = percent;
    progressLabel.textContent = `Uploading… ${percent}%`;
    // Screen readers hear the progress in quarters, not on every event.
    const quarter = Math.floor(percent / 25) * 25;
    if (quarter > announced && quarter < 100) {
      announced = quarter;
      setPhase('uploading', `Uploading… ${quarter}%`);
    }
  });
  xhr.upload.addEventListener('load', () => {
    progress.value = 100;
    progressLabel.textContent = 'Uploaded';
    setPhase('waiting', 'Uploaded. Waiting for Truedy… (this can take a few seconds when it is busy)');
  });
  xhr.addEventListener('load', () => {
    submit.disabled = false;
    if (xhr.status === 201) {
      const answer = JSON.parse(xhr.responseText) as CloneEnvelope;
      const voice = answer.data;
      showVoice(voice);
      showAudio(answer.meta.audio);
      result.focus();
      setPhase(
        'done',
        voice.status === 'training' ? 'Created; training now.' : `The voice is ${voice.status}.`,
      );
      if (voice.status === 'training') poll(voice.id, MAX_POLLS);
    } else {
      setPhase('failed', 'The voice was not created.');
      showErrors([errorText(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After'))]);
      errorBox.focus();
    }
  });
  xhr.addEventListener('error', () => {
    submit.disabled = false;
    setPhase('failed', 'The voice was not created.');
    showErrors(['The upload did not reach the server. Check the connection and try again.']);
    errorBox.focus();
  });
  progress.value = 0;
  progressLabel.textContent = 'Uploading…';
  progressBox.hidden = false;
  setPhase('uploading', 'Uploading…');
  xhr.send(data);
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (submit.disabled) return;
  submit.disabled = true;
  const name = nameInput.value.trim();
  const { issues, focus } = await refusals(name);
  if (issues.length) {
    submit.disabled = false;
    showErrors(issues);
    setPhase('refused', '');
    focus?.focus();
    return;
  }
  showErrors([]);
  window.clearTimeout(pollTimer);
  result.hidden = true;
  send(name);
});

refresh();
setPhase('ready', '');
