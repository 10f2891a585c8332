import { Readable } from 'node:stream';
import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import {
	CloudSyncError,
	NotFoundError,
	hashStream,
	normalizeRelativePath,
	parentPath,
	type Capabilities,
	type Entry,
	type HashType,
	type Hashes,
	type Provider,
} from '../../../lib';

interface ItemFile {
	entry: Entry;
	itemIndex: number;
}

const READ_ONLY = 'Input items are a read-only source: choose a cloud or a local folder as the destination of this change.';

/**
 * The binaries of the input items as a read-only source folder: how a file made by an earlier node,
 * or listed and downloaded from another account of the same cloud, is synced into a destination.
 * Each file's path is the item's path field (as List and Download output it), else the binary's file name.
 */
export class InputItemsProvider implements Provider {
	readonly name = 'input items';
	readonly capabilities: Capabilities = {
		hashTypes: ['sha1', 'sha256', 'md5', 'dropbox', 'quickxor'],
		listedHashTypes: [],
		modTimePrecisionMs: 1,
		canSetModTime: false,
		caseInsensitive: false,
		maxFileSize: Number.POSITIVE_INFINITY,
		emptyFolders: true,
	};

	private constructor(
		private readonly context: IExecuteFunctions,
		private readonly files: Map<string, ItemFile[]>,
		private readonly property: string,
	) {}

	static async open(context: IExecuteFunctions, items: INodeExecutionData[], property: string, pathField: string): Promise<InputItemsProvider> {
		const files = new Map<string, ItemFile[]>();
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			const binary = items[itemIndex].binary?.[property];
			if (!binary) continue;
			const json = items[itemIndex].json;
			const named = typeof json[pathField] === 'string' && json[pathField] !== '' ? String(json[pathField]) : binary.fileName;
			if (!named) throw new CloudSyncError(`Item ${itemIndex} has a binary without a file name and no "${pathField}" field`, { hint: `Set the ${pathField} field of each item to the file's path.` });
			const path = normalizeRelativePath(named);
			const size = binary.id ? (await context.helpers.getBinaryMetadata(binary.id)).fileSize : Buffer.byteLength(binary.data, 'base64');
			const modified = typeof json.modified === 'string' ? Date.parse(json.modified) : Number.NaN;
			// Without a known time, the file counts as written now: a destination copy is then compared by size and content.
			const entry: Entry = { path, isDir: false, size, modTime: Number.isNaN(modified) ? Date.now() : modified, hashes: {}, mimeType: binary.mimeType };
			files.set(path, [...(files.get(path) ?? []), { entry, itemIndex }]);
		}
		return new InputItemsProvider(context, files, property);
	}

	async *list(): AsyncIterable<Entry> {
		const folders = new Set<string>();
		for (const [path, copies] of this.files) {
			for (let folder = parentPath(path); folder !== '' && !folders.has(folder); folder = parentPath(folder)) folders.add(folder);
			// Two items with one path are yielded twice: the planner reports them as a conflict.
			for (const copy of copies) yield copy.entry;
		}
		for (const folder of [...folders].sort()) yield { path: folder, isDir: true, size: 0, modTime: 0, hashes: {} };
	}

	private file(path: string): ItemFile {
		const copies = this.files.get(normalizeRelativePath(path));
		if (!copies?.length) throw new NotFoundError(path);
		if (copies.length > 1) throw new CloudSyncError(`${copies.length} input items are named ${path}`, { hint: 'Give each item its own path.' });
		return copies[0];
	}

	async stat(path: string): Promise<Entry> {
		return this.file(path).entry;
	}

	async read(path: string): Promise<Readable> {
		const { itemIndex } = this.file(path);
		const binary = this.context.helpers.assertBinaryData(itemIndex, this.property);
		return binary.id ? this.context.helpers.getBinaryStream(binary.id) : Readable.from([Buffer.from(binary.data, 'base64')]);
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		return (await hashStream(await this.read(path), types)).hashes;
	}

	async write(): Promise<Entry> {
		throw new CloudSyncError(READ_ONLY);
	}

	async mkdir(): Promise<void> {
		throw new CloudSyncError(READ_ONLY);
	}

	async delete(): Promise<void> {
		throw new CloudSyncError(READ_ONLY);
	}

	async move(): Promise<Entry> {
		throw new CloudSyncError(READ_ONLY);
	}
}
