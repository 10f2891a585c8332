import { createHash } from 'node:crypto';

/**
 * The store of an emulated account: items with ids, each with one parent, revisions, times and
 * bytes, plus quota accounting. A cloud addressed by ids (Drive, OneDrive) uses the ids directly; one
 * addressed by paths (Dropbox) resolves paths through `resolve`. Names are compared through `fold`,
 * which is what makes a cloud case-insensitive, and several items may share a name, as on Drive: a
 * cloud that forbids that checks before it adds. The tree records no changes itself, because what a
 * change feed reports differs from cloud to cloud (see Journal).
 */
export interface Item<M> {
	readonly id: string;
	/** Changed through `move`, which keeps the name index right. */
	readonly name: string;
	/** Undefined for a root: My Drive, a shared drive, the top of a Dropbox account. */
	readonly parentId?: string;
	readonly folder: boolean;
	/** A file's bytes; undefined for a folder and for items with no bytes of their own (Google Docs). Changed through `write`. */
	readonly content?: Buffer;
	createdTime: number;
	/** The modification time clients see and may set. */
	modifiedTime: number;
	/** When the server last stored new bytes for the item (Dropbox's server_modified). */
	readonly storedTime: number;
	/** Bumped by every change, metadata included (Drive's version, OneDrive's eTag). */
	readonly revision: number;
	/** Bumped only when the bytes change (Dropbox's rev, OneDrive's cTag). */
	readonly contentRevision: number;
	/** What only its cloud keeps: Drive's MIME type and trash flag, for instance. */
	meta: M;
}

type Mutable<M> = { -readonly [K in keyof Item<M>]: Item<M>[K] };

export interface NewItem<M> {
	/** When absent, the tree's `newId` makes one. */
	id?: string;
	name: string;
	parentId?: string;
	folder: boolean;
	content?: Buffer;
	createdTime?: number;
	modifiedTime?: number;
	meta: M;
}

/** A file's bytes as they were at one content revision, for downloads of earlier versions. */
export interface Version<M> {
	item: Item<M>;
	/** Names from the root down, when the version was stored. */
	path: string[];
}

export interface TreeOptions {
	newId: () => string;
	/** Maps a name to the form names are compared in: lower case for a case-insensitive cloud. */
	fold?: (name: string) => string;
}

export class Tree<M> {
	/** Bytes the account may hold; writes that would pass it are refused, each cloud in its own words. */
	quotaBytes = Number.POSITIVE_INFINITY;
	private readonly items = new Map<string, Mutable<M>>();
	private readonly children = new Map<string, Set<string>>();
	/** Items by parent and folded name, so that path lookups in large folders stay cheap. */
	private readonly byName = new Map<string, Set<string>>();
	private readonly versions = new Map<number, Version<M>>();
	private readonly fold: (name: string) => string;
	private revisions = 0;
	private used = 0;

	constructor(private readonly options: TreeOptions) {
		this.fold = options.fold ?? ((name) => name);
	}

	/** Bytes held by every item, whatever the cloud shows (Drive counts its trash). */
	get usedBytes(): number {
		return this.used;
	}

	/** Whether `addedBytes` more (negative when a write shrinks a file) fit in the quota. */
	hasRoom(addedBytes: number): boolean {
		return this.used + addedBytes <= this.quotaBytes;
	}

	get(id: string): Item<M> | undefined {
		return this.items.get(id);
	}

	/** Every item, in the order they were added. */
	all(): IterableIterator<Item<M>> {
		return this.items.values();
	}

	/** The items directly in `id`, in the order they arrived there. */
	childrenOf(id: string): Item<M>[] {
		return [...(this.children.get(id) ?? [])].map((child) => this.items.get(child)!);
	}

	/** The items in `parentId` called `name`, as the tree compares names. */
	named(parentId: string, name: string): Item<M>[] {
		return [...(this.byName.get(this.nameKey(parentId, name)) ?? [])].map((id) => this.items.get(id)!);
	}

	/** Everything below `id` (not `id` itself), each folder before what it holds. */
	descendants(id: string): Item<M>[] {
		const found: Item<M>[] = [];
		const visit = (parent: string) => {
			for (const child of this.childrenOf(parent)) {
				found.push(child);
				if (child.folder) visit(child.id);
			}
		};
		visit(id);
		return found;
	}

	/** `item`, then its parent, and so on up to its root. */
	*ancestry(item: Item<M>): Generator<Item<M>> {
		for (let current: Item<M> | undefined = item; current; current = current.parentId === undefined ? undefined : this.items.get(current.parentId)) {
			yield current;
		}
	}

	/** Names from below the root down to `item`. */
	pathOf(item: Item<M>): string[] {
		return [...this.ancestry(item)].reverse().slice(1).map((each) => each.name);
	}

	/** The item at `names` below `rootId`, taking the first match at each step. */
	resolve(rootId: string, names: readonly string[]): Item<M> | undefined {
		let current = this.items.get(rootId);
		for (const name of names) current = current && this.named(current.id, name)[0];
		return current;
	}

	add(fields: NewItem<M>): Item<M> {
		const now = Date.now();
		const revision = ++this.revisions;
		const item: Mutable<M> = {
			id: fields.id ?? this.options.newId(),
			name: fields.name,
			parentId: fields.parentId,
			folder: fields.folder,
			content: fields.content,
			createdTime: fields.createdTime ?? now,
			modifiedTime: fields.modifiedTime ?? now,
			storedTime: now,
			revision,
			contentRevision: revision,
			meta: fields.meta,
		};
		this.items.set(item.id, item);
		this.index(item);
		this.used += item.content?.length ?? 0;
		this.keepVersion(item);
		return item;
	}

	/** New bytes for a file: a new content revision. */
	write(item: Item<M>, content: Buffer): void {
		const stored = this.items.get(item.id)!;
		this.used += content.length - (stored.content?.length ?? 0);
		stored.content = content;
		stored.storedTime = Date.now();
		stored.revision = stored.contentRevision = ++this.revisions;
		this.keepVersion(stored);
	}

	/** A change to metadata only: a new revision, the same content revision. */
	touch(item: Item<M>): void {
		this.items.get(item.id)!.revision = ++this.revisions;
	}

	/** Moves and renames `item`; a root can be given a parent, and an item made a root (parentId undefined). */
	move(item: Item<M>, parentId: string | undefined, name = item.name): void {
		const stored = this.items.get(item.id)!;
		this.unindex(stored);
		stored.parentId = parentId;
		stored.name = name;
		this.index(stored);
		this.touch(stored);
	}

	/** A copy of `item` and everything below it into `parentId` as `name`: new ids and revisions, the same bytes, times and metadata. */
	copy(item: Item<M>, parentId: string, name: string): Item<M>[] {
		const copies: Item<M>[] = [];
		const place = (source: Item<M>, into: string, as: string) => {
			const copy = this.add({ ...source, id: undefined, parentId: into, name: as, createdTime: undefined, meta: { ...source.meta } });
			copies.push(copy);
			for (const child of this.childrenOf(source.id)) place(child, copy.id, child.name);
		};
		place(item, parentId, name);
		return copies;
	}

	/** Deletes `item` and everything below it; returns what went, each item after what it held. */
	remove(item: Item<M>): Item<M>[] {
		const removed: Item<M>[] = [];
		const visit = (current: Item<M>) => {
			for (const child of this.childrenOf(current.id)) visit(child);
			this.unindex(current);
			this.children.delete(current.id);
			this.items.delete(current.id);
			this.used -= current.content?.length ?? 0;
			removed.push(current);
		};
		visit(item);
		return removed;
	}

	/** The file as it was at `contentRevision`, while the tree remembers it. */
	version(contentRevision: number): Version<M> | undefined {
		return this.versions.get(contentRevision);
	}

	private keepVersion(item: Mutable<M>): void {
		if (!item.folder && item.content) this.versions.set(item.contentRevision, { item: { ...item }, path: this.pathOf(item) });
	}

	private nameKey(parentId: string, name: string): string {
		return `${parentId}/${this.fold(name)}`;
	}

	private index(item: Item<M>): void {
		if (item.parentId === undefined) return;
		const siblings = this.children.get(item.parentId) ?? new Set();
		this.children.set(item.parentId, siblings.add(item.id));
		const key = this.nameKey(item.parentId, item.name);
		this.byName.set(key, (this.byName.get(key) ?? new Set()).add(item.id));
	}

	private unindex(item: Item<M>): void {
		if (item.parentId === undefined) return;
		this.children.get(item.parentId)?.delete(item.id);
		const key = this.nameKey(item.parentId, item.name);
		this.byName.get(key)?.delete(item.id);
		if (this.byName.get(key)?.size === 0) this.byName.delete(key);
	}
}

/** Content digests by algorithm, computed once per buffer: listings ask for them far more often than bytes change. */
const digests = new WeakMap<Buffer, Map<string, string>>();

/** A hex digest of `content` with a node:crypto algorithm, or with `hasher` for a cloud's own hash. */
export function digestOf(content: Buffer, algorithm: string, hasher: (content: Buffer) => string = (bytes) => createHash(algorithm).update(bytes).digest('hex')): string {
	const known = digests.get(content) ?? new Map<string, string>();
	digests.set(content, known);
	let digest = known.get(algorithm);
	if (digest === undefined) known.set(algorithm, (digest = hasher(content)));
	return digest;
}
