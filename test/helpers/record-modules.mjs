// Preloaded with `node --import` into a service process a test starts: writes to
// $RECORD_MODULES_FILE the URL of every module the ESM loader loads (module.register hooks, Node
// >= 20.6) and, at exit, every file in the CommonJS module cache (packages that `require` each
// other never pass those hooks on Node 20), so a test can tell which packages a process loaded.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const hooks = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function load(url, context, nextLoad) {
  appendFileSync(file, url + '\\n');
  return nextLoad(url, context);
}
`;

const file = process.env.RECORD_MODULES_FILE;
if (file) {
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file } });
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    appendFileSync(
      file,
      Object.keys(cache)
        .map((p) => `${pathToFileURL(p).href}\n`)
        .join(''),
    );
  });
}
