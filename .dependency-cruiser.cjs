/**
 * The layering, written down once and enforced by `npm run lint` (dependency-cruiser):
 *   main.ts → service.ts → http/ → api/ (the answers' zod schemas, the page's settings) → the
 *   domain (upload/, audio/, upstream/, normalize/, identity/, audit/, stores/, tracing/) →
 *   errors.ts, clock.ts and the other leaf modules of src/.
 * Imports point down only. The form's browser script (web/) is a client of the API: it takes only
 * types from the server (api/ and the domain's shapes, never http/), plus the one shared formatter.
 */
const DOMAIN = '^src/(upload|audio|upstream|normalize|identity|audit|stores|tracing)/';
const LEAVES = '^src/(errors|clock|values|redact|format-bytes)\\.ts$';

/** One forbidden direction: imports from `from` to `to` fail the lint. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

module.exports = {
  forbidden: [
    forbid(
      'only-http-knows-http',
      'Status codes, headers and Express routes live in src/http; nothing below it imports it.',
      { path: '^src/', pathNot: '^src/(http/|main\\.ts$|service\\.ts$)' },
      { path: '^src/http/' },
    ),
    forbid(
      'domain-points-down',
      'The domain never reaches up to the API shapes, the app wiring or the entry points.',
      { path: DOMAIN },
      { path: '^src/(api/|main\\.ts$|service\\.ts$)' },
    ),
    forbid(
      'leaves-are-leaves',
      'errors.ts, clock.ts and the other leaf modules import nothing of the service but each other.',
      { path: LEAVES },
      { path: '^src/', pathNot: LEAVES },
    ),
    forbid(
      'config-is-a-leaf',
      'Config is parsed from the environment alone.',
      { path: '^src/config/' },
      {
        path: '^src/',
        pathNot: '^src/config/',
      },
    ),
    forbid(
      'only-main-builds-the-service',
      'main.ts listens and reads the environment; only it (and the tests) build the service.',
      { path: '^src/', pathNot: '^src/main\\.ts$' },
      { path: '^src/(main|service)\\.ts$' },
    ),
    forbid(
      'sandbox-stands-alone',
      'The fake Truedy shares no code with the service beyond the leaf modules.',
      { path: '^src/sandbox/' },
      { path: '^src/', pathNot: ['^src/sandbox/', '^src/logger\\.ts$', '^src/tracing/spans\\.ts$', LEAVES] },
    ),
    forbid(
      'the-page-takes-types-only',
      'The browser script is bundled alone: from the server it may import types, and the shared formatter.',
      { path: '^src/web/' },
      { path: '^src/', pathNot: ['^src/web/', '^src/format-bytes\\.ts$'], dependencyTypesNot: ['type-only'] },
    ),
    forbid('no-circular', 'A cycle has no bottom layer.', { path: '^src/' }, { circular: true }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
