// Jest globalSetup: a fresh folder for every line the suite logs (scanned by suite-teardown.mjs),
// and one temporary folder for the whole run. TMPDIR points at it before the workers start, so
// every temp folder a test, a service process or the browser makes is inside it, and the teardown
// removes it: a run leaves nothing in /tmp (it once left a folder per service built, about 200 a run).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The run's temporary folder's name prefix; the teardown removes only a folder of this name. */
export const SUITE_TMP_PREFIX = 'truedy-bff-tests-';

export default function setup() {
  const dir = path.resolve(import.meta.dirname, '../../test-results/logs');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.env.TMPDIR = mkdtempSync(path.join(os.tmpdir(), SUITE_TMP_PREFIX));
}
