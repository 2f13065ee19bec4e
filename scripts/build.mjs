// Builds dist/ with esbuild: the server transpiled file by file (tsc --noEmit typechecks it in
// `npm test`), the form's script bundled for the browser, the page's static files copied. A
// whole build takes well under a second, so `npm start` rebuilds every time and never runs stale
// code. `--watch` (npm run dev) rebuilds on change and restarts the service.
import { spawn } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
const watch = process.argv.includes('--watch');

/** Every server source file: all of src/ but the browser's src/web. */
const serverFiles = readdirSync(src, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith(`web${path.sep}`))
  .map((f) => path.join(src, f));

const server = {
  entryPoints: serverFiles,
  outdir: dist,
  outbase: src,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};
const web = {
  entryPoints: [path.join(src, 'web/form.ts')],
  outfile: path.join(dist, 'web/form.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
};
const copyStatic = () => cpSync(path.join(src, 'web/static'), path.join(dist, 'web'), { recursive: true });

rmSync(dist, { recursive: true, force: true });
if (!watch) {
  await Promise.all([esbuild.build(server), esbuild.build(web)]);
  copyStatic();
} else {
  let child;
  const restart = () => {
    copyStatic();
    child?.kill('SIGTERM');
    child = spawn(process.execPath, ['--max-semi-space-size=8', path.join(dist, 'main.js')], {
      stdio: 'inherit',
    });
  };
  let pending = 2;
  const onEnd = {
    name: 'restart',
    setup(build) {
      build.onEnd((result) => {
        if (result.errors.length) return;
        if (pending > 0) pending--;
        if (pending === 0) restart();
      });
    },
  };
  const contexts = await Promise.all([
    esbuild.context({ ...server, plugins: [onEnd] }),
    esbuild.context({ ...web, plugins: [onEnd] }),
  ]);
  await Promise.all(contexts.map((c) => c.watch()));
  process.once('SIGINT', () => {
    child?.kill('SIGTERM');
    process.exit(0);
  });
}
