import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { auditFilePath, readAuditFile } from '../helpers/audit-file.js';
import { launchChromium } from '../helpers/browser.js';
import { FINISHED, fillForm, openForm, submitUntil } from '../helpers/form-page.js';
import { startFormService } from '../helpers/form-service.js';
import { audio, listen, type Running, TEST_KEY } from '../helpers/kit.js';
import { closeAll } from '../helpers/suite.js';

// A real browser on a busy 2-core machine (three test files at once): a test may take over 20 s.
jest.setTimeout(60_000);

const PERSON = 'grace.hopper@example.com';

/**
 * A tiny authenticating proxy (what oauth2-proxy does once the person has signed in): every request
 * is forwarded to the service with the person in X-Forwarded-Email, and whatever the browser sent
 * under that name is dropped first.
 */
function authProxy(target: string) {
  const t = new URL(target);
  return listen((req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers, 'x-forwarded-email': PERSON };
    const upstream = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
}

describe('the form behind an authenticating proxy', () => {
  let browser: Browser;
  let sandbox: Running;
  let service: Running;
  let proxy: Running;
  const auditFile = auditFilePath();

  beforeAll(async () => {
    browser = await launchChromium();
    sandbox = await listen(createSandboxApp({ apiKey: TEST_KEY, activateAfterMs: 300 }));
    service = await startFormService(
      sandbox.url,
      { AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email', TRUST_PROXY: '127.0.0.1', AUDIT_LOG: auditFile },
      { upstreamName: 'sandbox', formPollMs: 200 },
    );
    proxy = await authProxy(service.url);
  }, 30_000);
  afterAll(() => closeAll(browser, proxy, service, sandbox));

  it('clones a voice, and the audit trail names the person the proxy signed in', async () => {
    const { page, done } = await openForm(browser, proxy.url);
    await fillForm(page, 'Behind SSO', audio('sample.mp3'));
    await submitUntil(page, FINISHED);
    expect(await page.locator('#v-name').textContent()).toBe('Behind SSO');
    // Who the caller is never reaches an answer, so never the page.
    expect(await page.content()).not.toContain(PERSON);
    await done();

    const entries = readAuditFile(auditFile);
    expect(entries.map((e) => e.event)).toEqual(['clone_requested', 'clone_outcome']);
    for (const e of entries) {
      expect(e.caller).toEqual({ kind: 'proxy', id: `person:${PERSON}`, person: PERSON });
      expect(e.voice_name).toBe('Behind SSO');
    }
    expect(entries[1]).toMatchObject({ status: 201, voice_id: expect.stringMatching(/^voice_/) });
  });

  it('the same service, reached without the proxy, refuses the clone (401)', async () => {
    const { page, done } = await openForm(browser, service.url);
    await fillForm(page, 'No SSO', audio('sample.mp3'));
    await submitUntil(page, 'failed');
    await done();
    const last = readAuditFile(auditFile).at(-1);
    expect(last).toMatchObject({
      event: 'clone_outcome',
      status: 401,
      code: 'unauthorized',
      caller: { kind: 'ip' },
    });
  });
});
