// Unit tests: pure logic and the pipeline with its dependencies passed in.
// End-to-end tests live in e2e/ and use jest.e2e.config.js.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  collectCoverageFrom: ['src/**/*.ts'],
  coverageThreshold: { global: { lines: 85 } },
  coverageReporters: ['text-summary', 'json-summary'],
};
