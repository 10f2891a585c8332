import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';

export default [
	...configWithoutCloudSupport,
	{ ignores: ['dist/**', 'coverage/**', 'jest.config.js'] },
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
		// Benchmarks and test scripts print their figures.
		files: ['bench/**/*.ts', 'test/**/*.ts'],
		rules: { 'no-console': 'off' },
	},
	{
		// Until the nodes issue registers Cloud Sync and its trigger, the package declares no node.
		files: ['package.json'],
		rules: {
			'n8n-nodes-base/community-package-json-n8n-nodes-empty': 'off',
			'@n8n/community-nodes/n8n-object-validation': 'off',
		},
	},
];
