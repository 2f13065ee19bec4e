// Fixture paths, the test key and small file-system facts: no service code, so any test may import it.
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Audio fixtures (copied from ../shared/fixtures; see test/fixtures/README.md). */
export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
export const audio = (name: string) => path.join(FIXTURES, 'audio', name);
export const notAudio = (name: string) => path.join(FIXTURES, 'not-audio', name);

export const TEST_KEY = 'tk_test_key_do_not_leak_0123456789';

/** A fresh, empty spool folder for one test. */
export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'bff-test-'));
}

/** Files left below a folder (the service spools into a private folder of its own inside UPLOAD_DIR). */
export function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** True when a string holds a raw C0 control character, U+2028 or U+2029 (never valid unescaped in our JSON). */
export function hasRawControl(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x20 || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}
