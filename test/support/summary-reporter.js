// Prints one closing line in the plain "N passed, N failed" form that CI logs are read by.
class SummaryReporter {
	onRunComplete(_contexts, results) {
		const skipped = results.numPendingTests + results.numTodoTests;
		process.stdout.write(
			`jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : '') + '\n',
		);
	}
}
module.exports = SummaryReporter;
