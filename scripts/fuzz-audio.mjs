// Fuzzes the audio readers (src/audio): `node scripts/fuzz-audio.mjs [options]`. Bundles
// test/fuzz/cli.ts with esbuild into test-results/fuzz-bundle/ and runs it; each input is read
// in a worker thread that is terminated when it overruns its timeout. Options:
//   --phases fixtures,bombs,mutations,scaling,memory   (default: all)
//   --seed N --cases N --minutes M   mutations: the draw, how many, and a time budget
//   --workers N                      worker threads for the mutations (2 cores: keep 1)
//   --large-mib N                    the large size in the scaling and memory phases (10)
//   --scaling-timeout-ms N           a read in the scaling phase over this is a hang (30000)
//   --only TEXT                      scaling and memory: only the hostile shapes whose name has TEXT
//   --out DIR                        keep up to 3 inputs per finding, with what they are
// The bounded subset CI runs is test/unit/audio-fuzz.test.ts.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
// Two levels below the root, so the bundle's import.meta.dirname finds the fixtures as the sources do.
const outfile = path.join(root, 'test-results/fuzz-bundle/cli.mjs');
await esbuild.build({
  entryPoints: [path.join(root, 'test/fuzz/cli.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
});
const run = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? 1);
