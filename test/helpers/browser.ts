import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium; `.ci/run` installs it. No browser is downloaded. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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
  const microphone =
    options.microphone === 'fake'
      ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']
      : options.microphone === 'fake-ask'
        ? ['--use-fake-device-for-media-stream']
        : [];
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...microphone,
    ],
  });
}
