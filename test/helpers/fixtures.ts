// Fixture paths, the test key and small file-system facts: no service code, so any test may import it.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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

/**
 * A real PCM WAV of exactly `bytes` bytes (at least 46): the spoken sample's own audio repeated,
 * under a header that says what is there. The audio-facts step reads it like any recording, so
 * tests that need a large upload send this, not zeros or random bytes after a header. Each
 * `variant` starts the speech at another sample, so files of one size can still differ.
 */
export function wavOfSize(bytes: number, variant = 0): Buffer {
  const sample = readFileSync(audio('sample.wav'));
  const at = sample.indexOf('data');
  const pcm = sample.subarray(at + 8, at + 8 + sample.readUInt32LE(at + 4));
  const dataBytes = (bytes - 44) & ~1; // whole 16-bit samples
  const out = Buffer.alloc(bytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(bytes - 8, 4);
  out.write('WAVE', 8, 'latin1');
  sample.copy(out, 12, 12, 36); // the sample's own fmt chunk: 16 kHz mono 16-bit PCM
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  const start = (variant * 2 * 997) % pcm.length; // whole samples: an even offset
  const speech = Buffer.concat([pcm.subarray(start), pcm.subarray(0, start)]);
  for (let o = 44; o < 44 + dataBytes; o += speech.length) {
    speech.copy(out, o, 0, Math.min(speech.length, 44 + dataBytes - o));
  }
  // An odd total leaves one pad byte after the data, as RIFF chunks are padded to even sizes.
  return out;
}
