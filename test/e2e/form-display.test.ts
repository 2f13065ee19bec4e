import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { FINISHED, fillForm, silentWav, submitUntil, waitForLengths } from '../helpers/form-page.js';
import { screenshot, suiteFormPage } from '../helpers/form-suite.js';
import { audio } from '../helpers/kit.js';

// What the form shows about the files before and after a clone (lengths, players, the server's
// measurement), without a microphone, and at two screen widths. The clone flow is form.test.ts.

describe('what the form shows about the files', () => {
  const suite = suiteFormPage();
  let page: Page;
  beforeEach(() => {
    page = suite.page;
  });

  it("shows each file's length and a player, and the total against the 1–2 minute guidance", async () => {
    const total = page.locator('#total');
    expect(await total.textContent()).toContain('Aim for 1–2 minutes of clean speech');

    await page.getByLabel('Audio files').setInputFiles(audio('sample.mp3'));
    await waitForLengths(page, 1);
    expect(await page.locator('#file-list li').first().textContent()).toContain(
      'sample.mp3 — 8.4 KB · 2.0 s',
    );
    expect(await total.textContent()).toBe(
      'Total: 2.0 s of audio. Under a minute: 1–2 minutes of clean speech gives a better voice.',
    );
    expect(await total.getAttribute('class')).toContain('warn');

    // The player plays the file itself (a blob: URL the CSP's media-src allows).
    const player = page.getByLabel('Play sample.mp3');
    expect(await player.getAttribute('src')).toMatch(/^blob:/);
    await player.evaluate(
      (el: HTMLAudioElement) =>
        new Promise<void>((resolve, reject) => {
          if (el.readyState >= 1) return resolve();
          el.addEventListener('loadedmetadata', () => resolve());
          el.addEventListener('error', () => reject(new Error('the player could not load the file')));
          setTimeout(() => reject(new Error('the player did not load the file within 5 s')), 5000);
        }),
    );
    expect(await player.evaluate((el: HTMLAudioElement) => Math.round(el.duration))).toBe(2);

    // A second file: the total follows.
    await page.getByLabel('Audio files').setInputFiles(audio('sample.flac'));
    await waitForLengths(page, 2);
    expect(await total.textContent()).toMatch(/^Total: 4\.0 s of audio\. Under a minute/);

    // Past a minute the warning gives way.
    await page.getByLabel('Audio files').setInputFiles({
      name: 'long.wav',
      mimeType: 'audio/wav',
      buffer: silentWav(61),
    });
    await waitForLengths(page, 3);
    expect(await total.textContent()).toBe(
      'Total: 1:05 min of audio. Good: 1–2 minutes of clean speech gives the best voice.',
    );
    expect(await total.getAttribute('class')).not.toContain('warn');

    // Removing a file takes its length out of the total and frees its object URL.
    const url = await page.getByLabel('Play long.wav').getAttribute('src');
    await page.getByRole('button', { name: 'Remove long.wav' }).click();
    expect(await total.textContent()).toMatch(/^Total: 4\.0 s of audio\. Under a minute/);
    const reload = await page.evaluate(
      (src) =>
        new Promise<string>((resolve) => {
          const a = new Audio();
          a.addEventListener('loadedmetadata', () => resolve('loaded'));
          a.addEventListener('error', () => resolve('gone'));
          a.src = src ?? '';
        }),
      url,
    );
    expect(reload).toBe('gone');
  });

  it("shows the server's own measurement when the answer carries meta.audio", async () => {
    // Until the server reports meta.audio, the page is given such an answer in place of the service's.
    const now = new Date().toISOString();
    await page.route('**/api/voices/clone', (route) =>
      route.fulfill({
        status: 201,
        json: {
          data: {
            id: 'voice_measured',
            name: 'Measured',
            provider: null,
            type: 'custom',
            language: null,
            status: 'active',
            created_at: now,
            updated_at: now,
            gender: null,
            accent: null,
            preview_url: null,
          },
          meta: {
            request_id: 'req_1',
            upstream_request_id: null,
            ts: now,
            audio: {
              seconds: 4.02,
              files: [
                { filename: 'sample.mp3', content_type: 'audio/mpeg', bytes: 8621, seconds: 2.01 },
                { filename: 'sample.flac', content_type: 'audio/flac', bytes: 10000, seconds: 2.01 },
              ],
            },
          },
        },
      }),
    );
    await fillForm(page, 'Measured', [audio('sample.mp3'), audio('sample.flac')]);
    expect(await page.locator('#v-audio').isVisible()).toBe(false);
    await submitUntil(page, FINISHED);
    expect(await page.locator('#v-audio').textContent()).toBe('4.0 s in 2 files');
    expect(await page.locator('#v-audio-label').isVisible()).toBe(true);
  });

  it('says there is no microphone, and picking files still works', async () => {
    const record = page.getByRole('button', { name: 'Record from microphone' });
    await record.click();
    await page.waitForFunction(() => document.getElementById('record-error')?.textContent !== '');
    expect(await page.locator('#record-error').textContent()).toBe(
      'No microphone was found. Connect one to record, or pick or drop files instead.',
    );
    expect(await record.isEnabled()).toBe(true);
    expect(await page.locator('#rec-live').isVisible()).toBe(false);

    await fillForm(page, 'Picked after all', audio('sample.wav'));
    await waitForLengths(page, 1);
    await submitUntil(page, FINISHED);
    expect(await page.locator('#v-name').textContent()).toBe('Picked after all');
  });

  it('lays out for a desktop and for a 360 px wide screen', async () => {
    await fillForm(page, 'Layout', audio('sample.mp3'));
    // A phone's file name: long, without a space to break at.
    await page.getByLabel('Audio files').setInputFiles({
      name: 'interview_with_the_speaker_recorded_on_the_phone_2026-03-03_take_2.ogg',
      mimeType: 'audio/ogg',
      buffer: readFileSync(audio('sample.ogg')),
    });
    await waitForLengths(page, 2);
    for (const width of [1280, 360]) {
      await page.setViewportSize({ width, height: 900 });
      await screenshot(page, `form-${width}.png`);
      // Nothing sticks out sideways: no horizontal scrolling, every control inside the screen.
      const overflow = await page.evaluate(() => {
        const out: string[] = [];
        if (document.documentElement.scrollWidth > window.innerWidth) out.push('page scrolls sideways');
        for (const el of document.querySelectorAll('input, button, audio, meter, progress, label, li')) {
          const box = el.getBoundingClientRect();
          if (box.width > 0 && (box.left < 0 || box.right > window.innerWidth))
            out.push(`${el.tagName.toLowerCase()}#${el.id} spans ${box.left}–${box.right}`);
        }
        return out;
      });
      expect({ width, overflow }).toEqual({ width, overflow: [] });
    }
  });
});
