import { availableParallelism } from 'node:os';

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
  // Test files mostly wait on sockets, child processes and a browser, not the CPU: at least three
  // workers (on 2 cores they run the suite in about 70 s against 104 s for two; Jest's default
  // there is one, which runs every file in turn).
  maxWorkers: Math.max(3, availableParallelism() - 1),
  globalSetup: '<rootDir>/test/helpers/suite-setup.mjs',
  globalTeardown: '<rootDir>/test/helpers/suite-teardown.mjs',
};
