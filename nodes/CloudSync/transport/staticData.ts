import type { IDataObject } from 'n8n-workflow';
import type { StateStore } from '../../../lib';

/** One entry of n8n's static data of this node: saved with the workflow after production runs, on whichever worker ran it. */
export class StaticDataStore implements StateStore {
	readonly where = "this node's static data in n8n";
	constructor(
		private readonly data: IDataObject,
		private readonly key: string,
	) {}
	async load() {
		return typeof this.data[this.key] === 'string' ? (this.data[this.key] as string) : undefined;
	}
	async save(state: string) {
		this.data[this.key] = state;
	}
}
