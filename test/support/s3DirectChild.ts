/**
 * Runs compareFailures (support/s3Direct.ts) in a plain Node process and prints its JSON. Under jest
 * an error Node makes is not `instanceof Error` in the test's realm, so the SDK wraps network errors
 * in an "AWS SDK error wrapper" that a real process never sees: the comparison runs where users run.
 */
import { compareFailures } from './s3Direct';

compareFailures().then(
	(results) => process.stdout.write(JSON.stringify(results)),
	(error: unknown) => {
		console.error(error);
		process.exitCode = 1;
	},
);
