/**
 * End-to-end tests against a real n8n (see test/e2e/n8n.ts): `npm run test:e2e`.
 * Separate from the unit tests (root jest.config.js) because they install n8n (about 7 min cold,
 * cached afterwards), start servers and a browser.
 */
process.env.CLOUDSYNC_E2E = '1';

/** @type {import('jest').Config} */
module.exports = {
	rootDir: '../..',
	testEnvironment: 'node',
	roots: ['<rootDir>/test/e2e'],
	testMatch: ['**/*.e2e.test.ts'],
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
	// Tests share the machine (2 cores) with n8n and Chromium: one file at a time.
	maxWorkers: 1,
	testTimeout: 10 * 60 * 1000,
	reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
