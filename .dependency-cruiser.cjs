/**
 * The layering, written down once and enforced by `npm run lint` (dependency-cruiser):
 *   main.ts → service.ts → http/ → the domain (upload/, audio/, upstream/, normalize/, identity/,
 *   audit/, stores/, tracing/) → errors.ts, clock.ts and the other leaf modules of src/.
 * Imports point down only. The form's browser script (web/) takes only types from the server,
 * plus the one shared formatter.
 */
const DOMAIN = '^src/(upload|audio|upstream|normalize|identity|audit|stores|tracing)/';
const LEAVES = '^src/(errors|clock|values|redact|format-bytes|logger)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'only-http-knows-http',
      comment: 'Status codes, headers and Express routes live in src/http; nothing below it imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(http/|main\\.ts$|service\\.ts$|web/)' },
      to: { path: '^src/http/' },
    },
    {
      name: 'domain-points-down',
      comment: 'The domain never reaches up to the app wiring or the entry points.',
      severity: 'error',
      from: { path: DOMAIN },
      to: { path: '^src/(main|service)\\.ts$' },
    },
    {
      name: 'leaves-are-leaves',
      comment: 'errors.ts, clock.ts and the other leaf modules import nothing of the service but each other.',
      severity: 'error',
      from: { path: LEAVES },
      to: { path: '^src/', pathNot: LEAVES },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'only-main-builds-the-service',
      comment: 'main.ts listens and reads the environment; only it (and the tests) build the service.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/main\\.ts$' },
      to: { path: '^src/(main|service)\\.ts$' },
    },
    {
      name: 'sandbox-stands-alone',
      comment: 'The fake Truedy shares no code with the service beyond the leaf modules.',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^src/', pathNot: ['^src/sandbox/', LEAVES] },
    },
    {
      name: 'the-page-takes-types-only',
      comment:
        'The browser script is bundled alone: from the server it may import types, and the shared formatter.',
      severity: 'error',
      from: { path: '^src/web/' },
      to: {
        path: '^src/',
        pathNot: ['^src/web/', '^src/format-bytes\\.ts$'],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
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
