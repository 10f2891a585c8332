#!/usr/bin/env node
/**
 * Starts a throw-away n8n with this package installed as a community package, an owner account and
 * workflows imported, and keeps it running until Ctrl-C (or takes one screenshot and exits).
 * Uses the e2e harness (test/e2e/n8n.ts). `npm run demo -- --editor` (scripts/demo.js) does the same
 * with the cloud emulators and examples/ loaded.
 *
 *   node scripts/n8n/editor.js [--port 5678] [--workflow FILE.json]... [--credentials FILE.json]
 *                              [--publish] [--no-package] [--screenshot OUT.png] [--keep]
 *
 *   --workflow      workflow JSON to import (repeatable; default test/e2e/workflows/smoke.workflow.json)
 *   --credentials   credentials JSON (one object or an array, plain `data`) to import first
 *   --publish       publish (activate) the imported workflows, so their triggers run
 *   --no-package    do not pack/install this package (default: installs it: run `npm run build` first)
 *   --screenshot    open the first workflow in the editor, save a PNG and exit
 *   --keep          keep the temporary n8n folder (database, logs) after exit
 *
 * Runs with Node >= 24 (`node` inside npm scripts is this repo's Node 24).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

if (Number(process.versions.node.split('.')[0]) < 24) {
	console.error(`editor.js needs Node >= 24 (this is ${process.version}): run it through npm or node_modules/.bin/node`);
	process.exit(2);
}

require('./load-ts');

const REPO = path.resolve(__dirname, '..', '..');
const { N8nSandbox, freePort } = require(path.join(REPO, 'test', 'e2e', 'n8n.ts'));
const { screenshot } = require(path.join(REPO, 'test', 'e2e', 'browser.ts'));

function parseArgs(argv) {
	const args = { port: undefined, workflows: [], credentials: [], publish: false, pack: true, screenshot: undefined, keep: false };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		const value = () => {
			const v = argv[++i];
			if (v === undefined) throw new Error(`${arg} needs a value`);
			return v;
		};
		if (arg === '--port') args.port = Number(value());
		else if (arg === '--workflow') args.workflows.push(path.resolve(value()));
		else if (arg === '--credentials') args.credentials.push(path.resolve(value()));
		else if (arg === '--publish') args.publish = true;
		else if (arg === '--no-package') args.pack = false;
		else if (arg === '--screenshot') args.screenshot = path.resolve(value());
		else if (arg === '--keep') args.keep = true;
		else if (arg === '--help' || arg === '-h') {
			process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
			process.exit(0);
		} else throw new Error(`unknown argument ${arg}`);
	}
	if (!args.workflows.length) args.workflows.push(path.join(REPO, 'test', 'e2e', 'workflows', 'smoke.workflow.json'));
	return args;
}

async function portIsFree(port) {
	const net = require('node:net');
	return await new Promise((resolve) => {
		const server = net.createServer();
		server.once('error', () => resolve(false));
		server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
	});
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const n8n = await N8nSandbox.create({ keep: args.keep });
	let server;
	const shutdown = async (code) => {
		try {
			await server?.stop();
			await n8n.cleanup();
		} finally {
			process.exit(code);
		}
	};
	process.once('SIGINT', () => void shutdown(0));
	process.once('SIGTERM', () => void shutdown(0));
	try {
		if (args.pack) console.log(`package installed in ${await n8n.packPackage()}`);
		for (const file of args.credentials) await n8n.importCredentials(JSON.parse(fs.readFileSync(file, 'utf8')));
		const ids = [];
		for (const file of args.workflows) {
			const workflow = JSON.parse(fs.readFileSync(file, 'utf8'));
			const id = await n8n.importWorkflow(workflow);
			if (args.publish) await n8n.publishWorkflow(id);
			ids.push({ id, name: workflow.name });
		}
		let port = args.port ?? 5678;
		if (port !== 0 && !(await portIsFree(port))) {
			const other = await freePort();
			console.log(`port ${port} is taken: using ${other}`);
			port = other;
		}
		server = await n8n.startN8n({ port: port || undefined });
		const owner = await server.setupOwner();
		console.log(`\nn8n is up in ${server.startupMs} ms: ${server.url}`);
		console.log(`sign in as ${owner.email} / ${owner.password}`);
		for (const { id, name } of ids) console.log(`  ${name}: ${server.url}/workflow/${id}`);
		console.log(`log: ${n8n.logFile}\ndata folder (N8N_RESTRICT_FILE_ACCESS_TO): ${n8n.dataFolder}`);
		if (args.screenshot) {
			const shot = await screenshot({
				url: `${server.url}/workflow/${ids[0].id}`,
				output: args.screenshot,
				cookies: Object.entries(server.cookies).map(([name, value]) => ({ name, value, url: server.url })),
				localStorage: { 'n8n-browserId': server.browserId },
				waitFor: { selector: '[data-test-id="canvas-node"]' },
				logFile: n8n.logFile,
			});
			console.log(`screenshot of ${shot.finalUrl}: ${args.screenshot}`);
			await shutdown(0);
			return;
		}
		console.log('\nCtrl-C to stop.');
	} catch (error) {
		console.error(error instanceof Error ? error.message : error);
		n8n.printLogs();
		await shutdown(1);
	}
}

void main();
