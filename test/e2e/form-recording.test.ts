import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { FINISHED, fillForm, openForm, submitUntil, waitForLengths } from '../helpers/form-page.js';
import { type FormService, startFormService } from '../helpers/form-service.js';
import { audio, type FakeUpstream, startFakeUpstream, voiceReply } from '../helpers/kit.js';
import { closeAll } from '../helpers/suite.js';

// A real browser on a busy 2-core machine (three test files at once): a test may take over 20 s.
jest.setTimeout(60_000);

/** What the page's MediaRecorders hand over, caught beside the page (not by it): window.__recorded[n]. */
const CATCH_RECORDED = () => {
  const w = window as unknown as { __recorded: Blob[][] };
  w.__recorded = [];
  const start = MediaRecorder.prototype.start;
  MediaRecorder.prototype.start = function (this: MediaRecorder, ...args: [number?]) {
    const chunks: Blob[] = [];
    w.__recorded.push(chunks);
    this.addEventListener('dataavailable', (e) => chunks.push(e.data));
    return start.apply(this, args);
  };
};

/** The SHA-256 of the n-th recording, computed in the page with crypto.subtle. */
function recordedSha256(page: Page, n: number): Promise<{ sha256: string; bytes: number; type: string }> {
  return page.evaluate(async (i) => {
    const chunks = (window as unknown as { __recorded: Blob[][] }).__recorded[i] ?? [];
    const blob = new Blob(chunks);
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { sha256, bytes: blob.size, type: chunks[0]?.type ?? '' };
  }, n);
}

/** Upstream's view of one clone call: each file as it decoded it from base64. */
function uploadedFiles(fake: FakeUpstream) {
  const clone = fake.received.filter((r) => r.method === 'POST');
  expect(clone).toHaveLength(1);
  const body = JSON.parse(clone[0]?.body.toString() ?? '{}') as {
    name: string;
    files: { filename: string; content_type: string; data: string }[];
  };
  return body.files.map((f) => {
    const bytes = Buffer.from(f.data, 'base64');
    return {
      filename: f.filename,
      content_type: f.content_type,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  });
}

describe('recording in the form (Chromium fake microphone)', () => {
  let browser: Browser;
  let fake: FakeUpstream;
  let service: FormService;
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium({ microphone: 'fake' });
    // POST answers a training voice; the page's poll (GET) finds it active.
    fake = await startFakeUpstream([], (r) =>
      r.method === 'GET'
        ? {
            status: 200,
            body: {
              data: { id: 'voice_custom123', name: 'Recorded', type: 'custom', status: 'active' },
              meta: { request_id: 'req_up_2', ts: new Date().toISOString() },
            },
          }
        : voiceReply(r),
    );
    service = await startFormService(fake.url, {}, { formPollMs: 100 });
  }, 30_000);
  afterAll(() => closeAll(browser, service, fake));

  beforeEach(async () => {
    fake.received.length = 0;
    context = await browser.newContext();
    await context.addInitScript(CATCH_RECORDED);
    ({ page, errors } = await openForm(context, service.url));
  });
  afterEach(async () => {
    await context?.close();
    expect(errors).toEqual([]);
  });

  /** Records until the page's own clock shows `shown` (m:ss), then stops. */
  async function record(shown: string) {
    await page.getByRole('button', { name: 'Record from microphone' }).click();
    await page.waitForFunction(() => document.body.dataset.recording === 'on');
    await page.waitForFunction((t) => document.getElementById('rec-time')?.textContent === t, shown, {
      timeout: 10_000,
    });
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.waitForFunction(() => document.body.dataset.recording === undefined);
  }

  it('records about 3 s with a clock and a live level; upstream gets exactly the recorded bytes as audio/webm', async () => {
    await page.getByLabel('Voice name').fill('Recorded');
    expect(await page.locator('#rec-live').isVisible()).toBe(false);

    const pageNow = () => page.evaluate(() => performance.now());
    const before = await pageNow();
    await page.getByRole('button', { name: 'Record from microphone' }).click();
    await page.waitForFunction(() => document.body.dataset.recording === 'on');
    expect(await page.locator('#rec-live').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Stop recording' }).isVisible()).toBe(true);
    // The fake device beeps: the meter rises above silence while it records.
    await page.waitForFunction(() => (document.getElementById('rec-level') as HTMLMeterElement).value > 0.2);
    await page.waitForFunction(() => document.getElementById('rec-time')?.textContent === '0:03', undefined, {
      timeout: 10_000,
    });
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.waitForFunction(() => document.body.dataset.recording === undefined);
    // How long the recorder can have run, on the page's clock: a loaded machine delivers the
    // stop click late, so the recording is "about 3 s" only as far as that allows.
    const recorderOnSeconds = ((await pageNow()) - before) / 1000;
    expect(await page.locator('#rec-live').isVisible()).toBe(false);
    expect(await page.locator('#record-status').textContent()).toBe('recording-1.webm added to the list.');

    await waitForLengths(page, 1);
    const item = page.locator('#file-list li').first();
    expect(await item.locator('.file-name').textContent()).toBe('recording-1.webm');
    const seconds = Number(await item.getAttribute('data-seconds'));
    // The clock showed 0:03 before the stop; a starved fake microphone may deliver under a second
    // less (see the player check below), never more than the recorder was on.
    expect(seconds).toBeGreaterThan(2);
    expect(seconds).toBeLessThanOrEqual(recorderOnSeconds);
    expect(await item.textContent()).toContain(`${seconds.toFixed(1)} s`);
    // Its player knows the length too (a MediaRecorder WebM's header has none).
    const player = page.getByLabel('Play recording-1.webm');
    expect(await player.getAttribute('src')).toMatch(/^blob:/);
    await page.waitForFunction(() => {
      const el = document.querySelector('#file-list audio') as HTMLAudioElement;
      return Number.isFinite(el.duration) && el.currentTime === 0;
    });
    // Near the decoded length: the player's comes from the blocks' timestamps, which Chromium stamps
    // by the clock, and a starved fake device delivers fewer samples than the clock says (0.54 s
    // apart once in CI with both cores busy); without the full-length seek it would be Infinity.
    const duration = await player.evaluate((el: HTMLAudioElement) => el.duration);
    expect(Math.abs(duration - seconds)).toBeLessThan(0.25 * seconds);

    const recorded = await recordedSha256(page, 0);
    expect(recorded.type).toMatch(/^audio\/webm/);
    await submitUntil(page, FINISHED);

    expect(uploadedFiles(fake)).toEqual([
      {
        filename: 'recording-1.webm',
        content_type: 'audio/webm',
        bytes: recorded.bytes,
        sha256: recorded.sha256,
      },
    ]);
  });

  it('takes several recordings beside a picked file, each named in turn', async () => {
    await page.getByLabel('Voice name').fill('Two takes');
    await record('0:01');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.ogg'));
    await record('0:01');
    await waitForLengths(page, 3);
    expect(await page.locator('#file-list .file-name').allTextContents()).toEqual([
      'recording-1.webm',
      'sample.ogg',
      'recording-2.webm',
    ]);
    // A recording is removed like a picked file.
    await page.getByRole('button', { name: 'Remove recording-1.webm' }).click();

    const second = await recordedSha256(page, 1);
    await submitUntil(page, FINISHED);
    const files = uploadedFiles(fake);
    expect(files.map((f) => [f.filename, f.content_type])).toEqual([
      ['sample.ogg', 'audio/ogg'],
      ['recording-2.webm', 'audio/webm'],
    ]);
    expect(files[1]?.sha256).toBe(second.sha256);
  });

  it('stops a take by itself before it outgrows MAX_FILE_BYTES', async () => {
    const small = await startFormService(fake.url, { MAX_FILE_BYTES: '60000' }, { formPollMs: 100 });
    try {
      await page.goto(small.url);
      await page.getByRole('button', { name: 'Record from microphone' }).click();
      await page.waitForFunction(() => document.body.dataset.recording === 'on');
      // Nobody presses stop: the take ends on its own (Chromium's Opus runs ~14 KB a second).
      await page.waitForFunction(() => document.body.dataset.recording === undefined, undefined, {
        timeout: 10_000,
      });
      expect(await page.locator('#record-error').textContent()).toBe(
        'The recording stopped at 58.6 KB, the limit for one file.',
      );
      await waitForLengths(page, 1);
      const recorded = await recordedSha256(page, 0);
      expect(recorded.bytes).toBeGreaterThan(0);
      expect(recorded.bytes).toBeLessThanOrEqual(60_000);
      expect(await page.locator('#form-error').textContent()).toBe('');
    } finally {
      await small.close();
    }
  });

  it('will not submit while a recording runs', async () => {
    await fillForm(page, 'Still recording', audio('sample.mp3'));
    await page.getByRole('button', { name: 'Record from microphone' }).click();
    await page.waitForFunction(() => document.body.dataset.recording === 'on');
    expect(await submitUntil(page, 'refused')).toEqual({
      message: 'Stop the recording first.',
      focused: 'record',
    });
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.waitForFunction(() => document.body.dataset.recording === undefined);
    expect(fake.received).toEqual([]);
  });
});

describe('recording when the person refuses the microphone', () => {
  let browser: Browser;
  let service: FormService;
  let fake: FakeUpstream;

  beforeAll(async () => {
    // A microphone exists, but this browser context was not given permission: the request is refused.
    browser = await launchChromium({ microphone: 'fake-ask' });
    fake = await startFakeUpstream();
    service = await startFormService(fake.url, {}, { formPollMs: 60_000 });
  }, 30_000);
  afterAll(() => closeAll(browser, service, fake));

  it('says so, and picking files still works', async () => {
    const context = await browser.newContext();
    try {
      const { page, errors } = await openForm(context, service.url);
      await page.getByRole('button', { name: 'Record from microphone' }).click();
      await page.waitForFunction(() => document.getElementById('record-error')?.textContent !== '');
      expect(await page.locator('#record-error').textContent()).toBe(
        'The microphone permission was refused. Allow the microphone for this site in the browser to record, or pick or drop files instead.',
      );
      expect(await page.getByRole('button', { name: 'Record from microphone' }).isEnabled()).toBe(true);

      await fillForm(page, 'Files instead', audio('sample.flac'));
      await waitForLengths(page, 1);
      await submitUntil(page, 'done');
      expect(fake.received.map((r) => r.method)).toEqual(['POST']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
