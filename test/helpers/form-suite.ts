// The set-up the form's browser tests share: one Chromium, the sandbox as Truedy (counting its
// calls), the service in front of it, and a fresh page on the form for every test.
import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { launchChromium } from './browser.js';
import { openForm } from './form-page.js';
import { startFormService } from './form-service.js';
import { listen, type Running, TEST_KEY } from './kit.js';
import { closeAll } from './suite.js';

/** What a test of the suite sees: its page, the browser, and how many calls the sandbox has had so far. */
export interface FormSuite {
  readonly page: Page;
  readonly browser: Browser;
  readonly sandboxCalls: number;
}

/**
 * Registers the hooks of a describe block whose tests each get a fresh page on the form; the
 * service allows files up to 600 000 bytes and polls a training voice every 200 ms.
 */
export function suiteFormPage(): FormSuite {
  let browser: Browser;
  let sandbox: Running;
  let service: Running;
  let page: Page | undefined;
  let sandboxCalls = 0;
  /** The page's own close, which expects no script error or CSP refusal (a failed XHR's line is expected). */
  let done: (() => Promise<void>) | undefined;

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
    ({ page, done } = await openForm(browser, service.url));
  });
  afterEach(() => done?.());

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
