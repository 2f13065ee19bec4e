// Jest globalTeardown: removes the run's temporary folder (suite-setup.mjs), then scans everything
// the suite logged for the Truedy key and the client tokens the tests used (SPEC "Operations": never
// the key, the Authorization header or tokens). Fails the run if found.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SUITE_TMP_PREFIX } from './suite-setup.mjs';

/** Secrets the tests put in configs and headers; keep in step with test/helpers/kit.ts SECRETS. */
const SECRETS = [
  'tk_test_key_do_not_leak_0123456789',
  'wrong_key_0123456789',
  'tok_internal_service_a_0001',
  'tok_internal_service_b_0002',
  'tok_caller_one_000000',
  'tok_caller_two_000000',
  'tok_openapi_check_0001',
  'tok_wrong_wrong_wrong_000',
];

export default function teardown() {
  const tmp = process.env.TMPDIR;
  if (tmp && path.basename(tmp).startsWith(SUITE_TMP_PREFIX)) rmSync(tmp, { recursive: true, force: true });
  const dir = path.resolve(import.meta.dirname, '../../test-results/logs');
  let lines = 0;
  for (const file of readdirSync(dir)) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    lines += text.split('\n').length - 1;
    for (const secret of SECRETS) {
      if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 6)}…) was logged in ${file}`);
    }
    if (/"authorization":"(?!\[redacted\])/i.test(text))
      throw new Error(`an Authorization header was logged in ${file}`);
  }
  if (lines === 0) throw new Error('log scan: the suite logged nothing, so the scan proves nothing');
  process.stdout.write(`log scan: ${lines} log lines, no key or token found\n`);
}
