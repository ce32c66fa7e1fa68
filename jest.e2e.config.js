// End-to-end tests: the bundled dist/ driven against the running test bed.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'],
  testTimeout: 600000,
};
