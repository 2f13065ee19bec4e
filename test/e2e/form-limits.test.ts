import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import {
  fillForm,
  openForm,
  pressClone,
  submitUntil,
  waitForLengths,
  waitForPhase,
} from '../helpers/form-page.js';
import { type FormService, startFormService } from '../helpers/form-service.js';
import { audio, type FakeUpstream, startFakeUpstream } from '../helpers/kit.js';
import { closeAll } from '../helpers/suite.js';

// A real browser on a busy 2-core machine (three test files at once): a test may take over 20 s.
jest.setTimeout(60_000);

describe('the form enforces the server’s consent and length settings', () => {
  let browser: Browser;
  let fake: FakeUpstream;
  let consent: FormService;
  let lengths: FormService;

  beforeAll(async () => {
    browser = await launchChromium();
    fake = await startFakeUpstream();
    const options = { formPollMs: 60_000 };
    consent = await startFormService(fake.url, { REQUIRE_CONSENT: 'true' }, options);
    lengths = await startFormService(fake.url, { MIN_AUDIO_SECONDS: '3', MAX_AUDIO_SECONDS: '5' }, options);
  }, 30_000);
  afterAll(() => closeAll(browser, consent, lengths, fake));

  /** A fresh page on `url`, with its errors watched and checked by `done`. */
  const open = (url: string, prepare?: (page: Page) => Promise<unknown>) => openForm(browser, url, prepare);

  it('with REQUIRE_CONSENT=true refuses to submit until the box is ticked, then sends consent', async () => {
    const { page, done } = await open(consent.url);
    expect(await page.getByLabel("I have the speaker's permission to clone this voice").isVisible()).toBe(
      true,
    );
    expect(await page.locator('label[for="consent"]').textContent()).toContain('(required)');
    await fillForm(page, 'Needs consent', audio('sample.mp3'));
    expect(await submitUntil(page, 'refused')).toEqual({
      message: "Tick the box to confirm you have the speaker's permission to clone this voice.",
      focused: 'consent',
    });
    expect(consent.clones()).toEqual([]);

    await page.getByLabel("I have the speaker's permission to clone this voice").check();
    // The server takes it only with the consent field (it answers 400 consent_required otherwise).
    await submitUntil(page, 'done');
    expect(consent.clones()).toEqual(['POST /api/voices/clone']);
    expect(await page.locator('#v-name').textContent()).toBe('Needs consent');
    await done();
  });

  it("shows the server's consent_required message to a page that did not know consent was required", async () => {
    // A page loaded before REQUIRE_CONSENT was turned on: its settings say consent is optional.
    const { page, done } = await open(consent.url, (p) =>
      p.route(consent.url, async (route) => {
        const answer = await route.fetch();
        const html = (await answer.text()).replace(
          '&#34;requireConsent&#34;:true',
          '&#34;requireConsent&#34;:false',
        );
        expect(html).toContain('&#34;requireConsent&#34;:false');
        await route.fulfill({ response: answer, body: html });
      }),
    );
    await fillForm(page, 'Stale page', audio('sample.mp3'));
    expect(await submitUntil(page, 'failed')).toEqual({
      message: "Confirm that you have the speaker's permission to clone this voice (send consent=true).",
      focused: 'form-error',
    });
    await done();
  });

  it('with MIN_AUDIO_SECONDS above the total refuses before any request; within the limits it sends', async () => {
    const before = fake.received.length;
    // Decoding waits for the test's word, so the submit below comes while the length is unknown.
    const { page, done } = await open(lengths.url, (p) =>
      p.addInitScript(() => {
        const decode = BaseAudioContext.prototype.decodeAudioData;
        const gate = new Promise((resolve) => {
          (window as unknown as { releaseDecoding: () => void }).releaseDecoding = () => resolve(undefined);
        });
        BaseAudioContext.prototype.decodeAudioData = function (this: BaseAudioContext, ...args) {
          return gate.then(() => decode.apply(this, args));
        } as typeof decode;
      }),
    );
    const total = page.locator('#total');
    expect(await total.textContent()).toContain('This service needs 3 s to 5 s of audio in all.');
    await fillForm(page, 'Lengths', audio('sample.wav'));
    // Submitted before the length is known: the page waits for it, then refuses.
    await submitUntil(page, 'measuring');
    expect(await page.locator('#phase').textContent()).toBe('Measuring the audio…');
    await page.evaluate(() => (window as unknown as { releaseDecoding: () => void }).releaseDecoding());
    await waitForPhase(page, 'refused');
    expect(await page.locator('#form-error').textContent()).toBe(
      'The audio adds up to 2.0 s; at least 3 s is needed.',
    );
    expect(lengths.clones()).toEqual([]);

    // Three 2 s files: over MAX_AUDIO_SECONDS.
    await page.getByLabel('Audio files').setInputFiles([audio('sample.mp3'), audio('sample.flac')]);
    await waitForLengths(page, 3);
    await pressClone(page);
    await page.waitForFunction(() => document.getElementById('form-error')?.textContent?.includes('at most'));
    expect(await page.locator('#form-error').textContent()).toBe(
      'The audio adds up to 6.0 s; at most 5 s is allowed.',
    );
    expect(lengths.clones()).toEqual([]);
    expect(fake.received.length).toBe(before);

    // Two files, 4 s: inside the limits, so it goes.
    await page.getByRole('button', { name: 'Remove sample.flac' }).click();
    await submitUntil(page, 'done');
    expect(lengths.clones()).toEqual(['POST /api/voices/clone']);
    await done();
  });
});
