// Debian's Chromium and the flags this closed network needs, in one place for the browser tests
// (test/helpers/browser.ts) and the fixture generator (test/fixtures/make-audio-fixtures.mjs).

/** Debian's Chromium; `npm test` installs it. No browser is downloaded. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launch flags: no sandbox (tests run as root), no GPU, and none of Chromium's background
 * connections, which this machine's closed network refuses. `microphone: 'fake'` gives a fake
 * device that is granted at once; `'fake-ask'` a fake device whose permission the page's context
 * decides (to test a refusal).
 */
export function chromiumArgs(microphone) {
  const fake = {
    fake: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
    'fake-ask': ['--use-fake-device-for-media-stream'],
  };
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    ...(fake[microphone] ?? []),
  ];
}
