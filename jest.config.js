/** Jest runs TypeScript through SWC as native ESM (see README "Development"). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } },
    ],
  },
  testTimeout: 20000,
  globalSetup: '<rootDir>/test/helpers/log-scan-setup.mjs',
  globalTeardown: '<rootDir>/test/helpers/log-scan-teardown.mjs',
};
