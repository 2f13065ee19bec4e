// The upload form's script (served as /assets/form.js; no inline script, so helmet's CSP stays on).
// It calls the same POST /api/voices/clone any client uses and holds no secret.

import { formatBytes as human } from '../format-bytes.js';
import type { PageSettings } from '../http/routes/form.js';
import type { CloneEnvelope, ErrorEnvelope, VoiceEnvelope } from '../http/schemas.js';
import type { Voice } from '../normalize/voice.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const body = document.body;
/** The server's own limits, injected into the page (one definition, in the server's config). */
const limits = JSON.parse(body.dataset.settings ?? '{}') as PageSettings;
const MAX_POLLS = 60;

const form = $<HTMLFormElement>('clone-form');
const nameInput = $<HTMLInputElement>('voice-name');
const fileInput = $<HTMLInputElement>('voice-files');
const list = $<HTMLUListElement>('file-list');
const errorBox = $<HTMLParagraphElement>('form-error');
const submit = $<HTMLButtonElement>('submit');
const progressBox = $<HTMLDivElement>('progress-box');
const progress = $<HTMLProgressElement>('upload-progress');
const progressLabel = $<HTMLLabelElement>('progress-label');
const phase = $<HTMLParagraphElement>('phase');
const result = $<HTMLElement>('result');

let chosen: File[] = [];
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
  let total = 0;
  for (const f of files) {
    total += f.size;
    const ext = f.name.includes('.') ? (f.name.split('.').pop() ?? '').toLowerCase() : '';
    if (f.size === 0) out.push(`"${f.name}" is empty.`);
    else if (f.size > limits.maxFileBytes)
      out.push(`"${f.name}" is ${human(f.size)}; each file may be at most ${human(limits.maxFileBytes)}.`);
    if (!limits.accept.includes(ext) && !f.type.startsWith('audio/'))
      out.push(`"${f.name}" does not look like audio (${limits.accept.join(', ')}).`);
  }
  if (total > limits.maxTotalBytes)
    out.push(`The files add up to ${human(total)}; at most ${human(limits.maxTotalBytes)} together.`);
  return out;
}

function showErrors(messages: string[]) {
  errorBox.textContent = messages.join('\n');
}

function renderList() {
  list.replaceChildren(
    ...chosen.map((f, i) => {
      const li = document.createElement('li');
      const label = document.createElement('span');
      label.textContent = `${f.name} — ${human(f.size)}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove ${f.name}`);
      remove.addEventListener('click', () => {
        chosen.splice(i, 1);
        renderList();
        fileInput.focus();
      });
      li.append(label, remove);
      return li;
    }),
  );
  showErrors(problems(chosen));
}

function addFiles(files: FileList | null) {
  if (!files) return;
  chosen = [...chosen, ...Array.from(files)];
  renderList();
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

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = nameInput.value.trim();
  const issues = problems(chosen);
  if (!name) issues.unshift('Enter a name for the voice.');
  if (chosen.length === 0) issues.push('Choose at least one audio file.');
  if (issues.length) {
    showErrors(issues);
    (name ? fileInput : nameInput).focus();
    return;
  }
  showErrors([]);
  window.clearTimeout(pollTimer);
  result.hidden = true;

  const data = new FormData();
  data.append('name', name);
  for (const f of chosen) data.append('files', f, f.name);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/voices/clone');
  // A fresh key per submit: a double click or a resent request cannot clone twice.
  xhr.setRequestHeader('Idempotency-Key', crypto.randomUUID());
  xhr.upload.addEventListener('progress', (ev) => {
    if (ev.lengthComputable) progress.value = Math.round((ev.loaded / ev.total) * 100);
  });
  xhr.upload.addEventListener('load', () => {
    progress.value = 100;
    progressLabel.textContent = 'Uploaded';
    setPhase('waiting', 'Waiting for Truedy… (this can take a few seconds when it is busy)');
  });
  xhr.addEventListener('load', () => {
    submit.disabled = false;
    if (xhr.status === 201) {
      const voice = (JSON.parse(xhr.responseText) as CloneEnvelope).data;
      showVoice(voice);
      result.focus();
      setPhase(
        'done',
        voice.status === 'training' ? 'Created; training now.' : `The voice is ${voice.status}.`,
      );
      if (voice.status === 'training') poll(voice.id, MAX_POLLS);
    } else {
      setPhase('failed', '');
      showErrors([errorText(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After'))]);
      errorBox.focus();
    }
  });
  xhr.addEventListener('error', () => {
    submit.disabled = false;
    setPhase('failed', '');
    showErrors(['The upload did not reach the server. Check the connection and try again.']);
  });
  submit.disabled = true;
  progress.value = 0;
  progressLabel.textContent = 'Uploading…';
  progressBox.hidden = false;
  setPhase('uploading', '');
  xhr.send(data);
});

setPhase('ready', '');
