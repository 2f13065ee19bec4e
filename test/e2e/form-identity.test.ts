import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { createSandboxApp } from '../../src/sandbox/sandbox-app.js';
import { launchChromium } from '../helpers/browser.js';
import { audio, buildService, listen, type Running, TEST_KEY, tempDir, testConfig } from '../helpers/kit.js';

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
  const auditFile = path.join(tempDir(), 'audit.log');

  beforeAll(async () => {
    browser = await launchChromium();
    sandbox = await listen(createSandboxApp({ apiKey: TEST_KEY, activateAfterMs: 300 }));
    const { app } = buildService(
      testConfig({
        AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email',
        TRUST_PROXY: '127.0.0.1',
        AUDIT_LOG: auditFile,
      }),
      sandbox.url,
      { upstreamName: 'sandbox', formPollMs: 200 },
    );
    service = await listen(app);
    proxy = await authProxy(service.url);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await service?.close();
    await sandbox?.close();
  });

  it('clones a voice, and the audit trail names the person the proxy signed in', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(proxy.url);
    await page.waitForFunction(() => document.body.dataset.phase === 'ready');
    await page.getByLabel('Voice name').fill('Behind SSO');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.mp3'));
    await page.getByRole('button', { name: 'Clone voice' }).click();
    await page.waitForFunction(() => ['done', 'settled'].includes(document.body.dataset.phase ?? ''));
    expect(await page.locator('#v-name').textContent()).toBe('Behind SSO');
    // Who the caller is never reaches an answer, so never the page.
    expect(await page.content()).not.toContain(PERSON);
    expect(errors).toEqual([]);
    await page.close();

    const entries = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(entries.map((e) => e.event)).toEqual(['clone_requested', 'clone_outcome']);
    for (const e of entries) {
      expect(e.caller).toEqual({ kind: 'proxy', id: `person:${PERSON}`, person: PERSON });
      expect(e.voice_name).toBe('Behind SSO');
    }
    expect(entries[1]).toMatchObject({ status: 201, voice_id: expect.stringMatching(/^voice_/) });
  });

  it('the same service, reached without the proxy, refuses the clone (401)', async () => {
    const page = await browser.newPage();
    await page.goto(service.url);
    await page.waitForFunction(() => document.body.dataset.phase === 'ready');
    await page.getByLabel('Voice name').fill('No SSO');
    await page.getByLabel('Audio files').setInputFiles(audio('sample.mp3'));
    await page.getByRole('button', { name: 'Clone voice' }).click();
    await page.waitForFunction(() => document.body.dataset.phase === 'failed');
    await page.close();
    const last = JSON.parse(readFileSync(auditFile, 'utf8').trim().split('\n').at(-1) ?? '{}');
    expect(last).toMatchObject({
      event: 'clone_outcome',
      status: 401,
      code: 'unauthorized',
      caller: { kind: 'ip' },
    });
  });
});
