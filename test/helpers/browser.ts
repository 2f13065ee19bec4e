import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

import { CHROMIUM, chromiumArgs } from './chromium.mjs';

export { CHROMIUM };

/** How a launched Chromium gets a microphone. */
export interface LaunchOptions {
  /**
   * `fake`: Chromium's fake capture device (a beeping tone), and every request for it is allowed
   * without a prompt. `fake-ask`: the fake device, but permission is the browser context's own
   * (`permissions: ['microphone']` allows; without it the request is refused, as a person refusing
   * the prompt). Absent: no capture device at all.
   */
  microphone?: 'fake' | 'fake-ask';
}

/** Launches headless Chromium with the flags this closed network needs. Fails (never skips) without it. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(options.microphone),
  });
}
