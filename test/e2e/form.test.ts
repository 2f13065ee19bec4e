import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { launchChromium } from '../helpers/browser.js';
import {
  audio,
  buildService,
  listen,
  type Running,
  TEST_KEY,
  testConfig,
  waitUntil,
} from '../helpers/kit.js';

const RESULTS = path.resolve(import.meta.dirname, '../../test-results');

describe('the upload form in a real browser', () => {
  let browser: Browser;
  let sandbox: Running;
  let service: Running;
  let page: Page;
  let sandboxCalls = 0;

  beforeAll(async () => {
    browser = await launchChromium();
    const fake = express();
    fake.use((_req, _res, next) => {
      sandboxCalls += 1;
      next();
    });
    fake.use(createSandboxApp({ apiKey: TEST_KEY, activateAfterMs: 700 }));
    sandbox = await listen(fake);
    const { app } = buildService(testConfig({ MAX_FILE_BYTES: '50000' }), sandbox.url, {
      upstreamName: 'sandbox',
      formPollMs: 200,
    });
    service = await listen(app);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await sandbox?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(service.url);
    await page.waitForFunction(() => document.body.dataset.phase === 'ready');
    expect(errors).toEqual([]);
  });
  afterEach(async () => {
    await page?.close();
  });

  /** Drops files on the page the way a browser does: a DataTransfer on a drop event. */
  async function drop(files: { name: string; type: string; bytes: Buffer }[]) {
    const dt = await page.evaluateHandle(
      (list) => {
        const transfer = new DataTransfer();
        for (const f of list)
          transfer.items.add(new File([new Uint8Array(f.data)], f.name, { type: f.type }));
        return transfer;
      },
      files.map((f) => ({ name: f.name, type: f.type, data: [...f.bytes] })),
    );
    await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
  }

  it('clones a voice from two files (picked and dropped), shows progress, the card, and active status', async () => {
    await page.getByLabel('Voice name').fill('Browser voice');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.mp3'));
    await drop([{ name: 'sample.ogg', type: 'audio/ogg', bytes: readFileSync(audio('sample.ogg')) }]);
    await expectCount(page.locator('#file-list li')).toHaveCount(2);
    expect(await page.locator('#file-list').textContent()).toMatch(
      /sample\.mp3 — 8\.4 KB[\s\S]*sample\.ogg — 5\.8 KB/,
    );

    const keys: (string | undefined)[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/voices/clone')) keys.push(r.headers()['idempotency-key']);
    });
    await page.getByRole('button', { name: 'Clone voice' }).click();
    await page.waitForFunction(() => ['done', 'settled'].includes(document.body.dataset.phase ?? ''));
    expect(await page.locator('#upload-progress').getAttribute('value')).toBe('100');
    // A fresh Idempotency-Key per submit, so a double click cannot clone twice.
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(await page.locator('#progress-box').isVisible()).toBe(true);

    const card = page.locator('#result');
    expect(await card.isVisible()).toBe(true);
    expect(await page.locator('#v-name').textContent()).toBe('Browser voice');
    expect(await page.locator('#v-id').textContent()).toMatch(/^voice_/);
    // The result takes focus, so keyboard and screen-reader users land on it.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('result');

    await page.waitForFunction(
      () => document.getElementById('v-status')?.textContent === 'active',
      undefined,
      {
        timeout: 10_000,
      },
    );
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'form-success.png'), fullPage: true });
  });

  it('refuses a too-large file before anything is uploaded', async () => {
    const before = sandboxCalls;
    await page.getByLabel('Voice name').fill('Too big');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.wav')); // 64 KB > MAX_FILE_BYTES 50000
    expect(await page.locator('#form-error').textContent()).toContain('each file may be at most 48.8 KB');
    await page.getByRole('button', { name: 'Clone voice' }).click();
    expect(await page.locator('#progress-box').isVisible()).toBe(false);
    expect(sandboxCalls).toBe(before);
  });

  it('lets a chosen file be removed', async () => {
    await page.getByLabel('Audio files').setInputFiles([audio('sample.mp3'), audio('sample.flac')]);
    await page.getByRole('button', { name: 'Remove sample.mp3' }).click();
    expect(await page.locator('#file-list').textContent()).not.toContain('sample.mp3');
    await expectCount(page.locator('#file-list li')).toHaveCount(1);
  });

  it('shows the message for a [no-credits] name (402)', async () => {
    await page.getByLabel('Voice name').fill('Broke [no-credits]');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.mp3'));
    await page.getByRole('button', { name: 'Clone voice' }).click();
    await page.waitForFunction(() => document.body.dataset.phase === 'failed');
    expect(await page.locator('#form-error').textContent()).toContain(
      'Insufficient credits for voice cloning',
    );
    expect(await page.locator('#result').isVisible()).toBe(false);
  });

  it('a [rate-limit] name succeeds after the retry', async () => {
    await page.getByLabel('Voice name').fill('Busy [rate-limit]');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.webm'));
    await page.getByRole('button', { name: 'Clone voice' }).click();
    await page.waitForFunction(
      () => document.body.dataset.phase === 'waiting' || document.body.dataset.phase === 'done',
    );
    await page.waitForFunction(
      () => ['done', 'settled'].includes(document.body.dataset.phase ?? ''),
      undefined,
      {
        timeout: 10_000,
      },
    );
    expect(await page.locator('#v-name').textContent()).toBe('Busy [rate-limit]');
  });
});

describe('the form when this service rate-limits', () => {
  it('says how long to wait', async () => {
    const browser = await launchChromium();
    const sandbox = await listen(createSandboxApp({ apiKey: TEST_KEY }));
    const { app } = buildService(testConfig({ RATE_LIMIT_MAX: '1' }), sandbox.url);
    const service = await listen(app);
    try {
      const page = await browser.newPage();
      await page.goto(service.url);
      await page.getByLabel('Voice name').fill('Twice');
      await page.getByLabel('Audio files').setInputFiles(audio('sample.mp3'));
      await page.getByRole('button', { name: 'Clone voice' }).click();
      await page.waitForFunction(() => document.body.dataset.phase === 'done');
      await page.getByRole('button', { name: 'Clone voice' }).click();
      await page.waitForFunction(() => document.body.dataset.phase === 'failed');
      expect(await page.locator('#form-error').textContent()).toMatch(
        /Please wait \d+ seconds before trying again/,
      );
    } finally {
      await browser.close();
      await service.close();
      await sandbox.close();
    }
  });
});

/** A tiny stand-in for Playwright Test's web-first assertion, polling a locator's count. */
function expectCount(locator: ReturnType<Page['locator']>) {
  return {
    async toHaveCount(n: number) {
      await waitUntil(`${n} items`, async () => (await locator.count()) === n, { everyMs: 50 }).catch(
        () => undefined,
      );
      expect(await locator.count()).toBe(n);
    },
  };
}
