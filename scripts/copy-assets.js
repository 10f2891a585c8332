// Copies what tsc does not emit (icons, codex files, lib/email/fonts with the fonts' licences) next to
// the compiled code, as `n8n-node build` does for icons.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
for (const folder of ['nodes', 'credentials', 'lib']) {
	const walk = (dir) => {
		if (!fs.existsSync(dir)) return;
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			const from = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(from);
			else if (/\.(svg|png|json)$/.test(entry.name) || path.basename(dir) === 'fonts') {
				const to = path.join(root, 'dist', path.relative(root, from));
				fs.mkdirSync(path.dirname(to), { recursive: true });
				fs.copyFileSync(from, to);
			}
		}
	};
	walk(path.join(root, folder));
}
