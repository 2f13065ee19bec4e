// What the browser tests of the form share: opening it, filling and submitting it, watching for
// errors, waiting for its phases and lengths, making audio.
import { expect } from '@jest/globals';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';

/** Collects script errors and CSP refusals; Chromium's own line for a refused XHR (4xx/5xx) is expected. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  return errors;
}

/** The phases in which a submit has finished well: the voice is shown (and may still be training). */
export const FINISHED = ['done', 'settled'];

/** Waits until the form's phase (`data-phase` on the body) is `phase`, or one of them. */
export async function waitForPhase(page: Page, phase: string | string[], options: { timeout?: number } = {}) {
  await page.waitForFunction(
    (phases) => phases.includes(document.body.dataset.phase ?? ''),
    [phase].flat(),
    options,
  );
}

/**
 * A fresh page (of `browser`, or of a context) on the form at `url`, once the form is ready, with
 * its errors watched from the start; `prepare` runs before the page loads (routes, init scripts).
 * `done()` closes the page and expects no error.
 */
export async function openForm(
  browser: Browser | BrowserContext,
  url: string,
  prepare?: (page: Page) => Promise<unknown>,
) {
  const page = await browser.newPage();
  const { errors } = await reopenForm(page, url, prepare);
  return {
    page,
    errors,
    async done() {
      await page.close();
      expect(errors).toEqual([]);
    },
  };
}

/** The viewport Playwright gives a new page. */
const DEFAULT_VIEWPORT = { width: 1280, height: 720 };

/** Page events a test may listen to; not `close` or `crash`, on which Playwright's page listens itself. */
const TEST_EVENTS = [
  'console',
  'dialog',
  'download',
  'filechooser',
  'pageerror',
  'popup',
  'request',
  'requestfailed',
  'requestfinished',
  'response',
] as const;

/**
 * Puts `page`, which a test before may have used, on a fresh form at `url`, as openForm does
 * for a new page: the navigation gives a new document and script realm, and what a test can
 * leave on the page object itself (listeners, routes, a viewport) is taken off first; `prepare`
 * as for openForm. Why reuse: measured here (open the form, pick a file, wait for its length), a
 * new page costs Chromium 1.1 s of CPU against 0.5 s for a reused one; the two form files took
 * 10–13 s instead of 16–22.
 */
export async function reopenForm(page: Page, url: string, prepare?: (page: Page) => Promise<unknown>) {
  for (const type of TEST_EVENTS) page.removeAllListeners(type);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  const size = page.viewportSize();
  if (size?.width !== DEFAULT_VIEWPORT.width || size.height !== DEFAULT_VIEWPORT.height)
    await page.setViewportSize(DEFAULT_VIEWPORT);
  const errors = watchErrors(page);
  await prepare?.(page);
  await page.goto(url);
  await waitForPhase(page, 'ready');
  return { errors };
}

/** Names the voice and picks `files`, as a person does before submitting. */
export async function fillForm(page: Page, name: string, files: Parameters<Locator['setInputFiles']>[0]) {
  await page.getByLabel('Voice name').fill(name);
  await page.getByLabel('Audio files').setInputFiles(files);
}

/** Presses "Clone voice". */
export function pressClone(page: Page): Promise<void> {
  return page.getByRole('button', { name: 'Clone voice' }).click();
}

/**
 * Presses "Clone voice" and waits for `phase`; returns what the person then sees: the form's
 * message and the id of the element that has focus (where a refusal sends them).
 */
export async function submitUntil(page: Page, phase: string | string[]) {
  await pressClone(page);
  await waitForPhase(page, phase);
  return {
    message: await page.locator('#form-error').textContent(),
    focused: await page.evaluate(() => document.activeElement?.id),
  };
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
