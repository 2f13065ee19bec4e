// The set-up the form's browser tests share: one Chromium, the sandbox as Truedy (counting its
// calls), the service in front of it, and one page, put on a fresh form for every test.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, jest } from '@jest/globals';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { launchChromium } from './browser.js';
import { reopenForm } from './form-page.js';
import { startFormService } from './form-service.js';
import { listen, type Running, TEST_KEY } from './kit.js';
import { closeAll } from './suite.js';

/** Where screenshots go: test-results/, which git ignores. */
const RESULTS = path.resolve(import.meta.dirname, '../../test-results');

/** Saves a full-page screenshot of `page` as test-results/`name`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, name), fullPage: true });
}

/** What a test of the suite sees: its page, the browser, and how many calls the sandbox has had so far. */
export interface FormSuite {
  readonly page: Page;
  readonly browser: Browser;
  readonly sandboxCalls: number;
}

/**
 * Registers the hooks of a describe block whose tests each get a fresh form, on the file's one
 * page; the service allows files up to 600 000 bytes and polls a training voice every 200 ms.
 */
export function suiteFormPage(): FormSuite {
  // A real browser on a busy 2-core machine (three test files at once): a test may take over 20 s.
  jest.setTimeout(60_000);
  let browser: Browser;
  let sandbox: Running;
  let service: Running;
  let page: Page | undefined;
  let sandboxCalls = 0;
  /** Script errors and CSP refusals on the page in this test (a failed XHR's line is expected). */
  let errors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    const fake = express();
    fake.use((_req, _res, next) => {
      sandboxCalls += 1;
      next();
    });
    fake.use(createSandboxApp({ apiKey: TEST_KEY, activateAfterMs: 700 }));
    sandbox = await listen(fake);
    service = await startFormService(
      sandbox.url,
      { MAX_FILE_BYTES: '600000' },
      { upstreamName: 'sandbox', formPollMs: 200 },
    );
  }, 30_000);
  afterAll(() => closeAll(browser, service, sandbox));

  beforeEach(async () => {
    page ??= await browser.newPage();
    ({ errors } = await reopenForm(page, service.url));
  });
  afterEach(() => {
    expect(errors).toEqual([]);
  });

  return {
    get browser() {
      return browser;
    },
    get page() {
      if (!page) throw new Error('suiteFormPage: used outside a test');
      return page;
    },
    get sandboxCalls() {
      return sandboxCalls;
    },
  };
}
