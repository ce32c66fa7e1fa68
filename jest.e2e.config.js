// End-to-end tests: the bundled dist/ driven against the running test bed.
import base from './jest.config.js';

export default {
  testEnvironment: base.testEnvironment,
  extensionsToTreatAsEsm: base.extensionsToTreatAsEsm,
  moduleNameMapper: base.moduleNameMapper,
  transform: base.transform,
  testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'],
  testTimeout: 600000,
};
