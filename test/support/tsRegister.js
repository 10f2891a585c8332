// Lets a child process started by a test require the TypeScript sources directly (jest transpiles
// them for the test itself, but a child is a plain Node process): each .ts file is transpiled on load.
const { readFileSync } = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
	const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
		fileName: filename,
		compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
	});
	module._compile(outputText, filename);
};
