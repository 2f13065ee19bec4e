// What the browser tests of the form share: watching for errors, waiting for lengths, making audio.
import type { Page } from 'playwright-core';

/** Collects script errors and CSP refusals; Chromium's own line for a refused XHR (4xx/5xx) is expected. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  return errors;
}

/** Waits until this many files in the list have a measured length (the browser decodes them). */
export async function waitForLengths(page: Page, n: number) {
  await page.waitForFunction(
    (count) =>
      document.querySelectorAll('#file-list li[data-seconds]').length === count &&
      !document.querySelector('#file-list')?.textContent?.includes('measuring'),
    n,
    { timeout: 10_000 },
  );
}

/** A WAV of silence, `seconds` long (8 kHz, 8-bit mono: 8 KB a second). */
export function silentWav(seconds: number): Buffer {
  const rate = 8000;
  const data = rate * seconds;
  const head = Buffer.alloc(44);
  head.write('RIFF', 0);
  head.writeUInt32LE(36 + data, 4);
  head.write('WAVEfmt ', 8);
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20); // PCM
  head.writeUInt16LE(1, 22); // mono
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate, 28); // bytes per second
  head.writeUInt16LE(1, 32); // block align
  head.writeUInt16LE(8, 34); // bits per sample
  head.write('data', 36);
  head.writeUInt32LE(data, 40);
  return Buffer.concat([head, Buffer.alloc(data, 0x80)]);
}
