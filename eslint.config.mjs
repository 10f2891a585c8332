import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';

export default [
	...configWithoutCloudSupport,
	{ ignores: ['dist/**', 'coverage/**', 'jest.config.js', 'scripts/**/*.js', 'test/**/*.js'] },
	{
		// The sync engine, the Google and Dropbox SDKs and luxon are runtime dependencies by design.
		files: ['**/*.ts', 'package.json'],
		rules: { '@n8n/community-nodes/no-runtime-dependencies': 'off' },
	},
	{
		// lib/ is free of n8n on purpose and has no node to attach an NodeApiError to: it throws typed
		// engine errors, and the nodes turn each of them into NodeApiError/NodeOperationError.
		files: ['lib/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
	{
		// Benchmarks and tests are never shipped: they print figures, spawn rclone and n8n, and define
		// test-only nodes that are not offered to AI agents.
		files: ['bench/**/*.ts', 'test/**/*.ts'],
		rules: {
			'no-console': 'off',
			'@n8n/community-nodes/no-dangerous-functions': 'off',
			'@n8n/community-nodes/node-usable-as-tool': 'off',
		},
	},
];
