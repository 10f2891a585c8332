import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
	type IPollFunctions,
} from 'n8n-workflow';
import { createFilter, CursorExpiredError, type Change, type Entry } from '../../lib';
import { filterOptions, locationFields } from '../CloudSync/actions/fields';
import { openLocation } from '../CloudSync/transport/locations';
import { readFilter } from '../CloudSync/helpers/options';
import { entryJson } from '../CloudSync/helpers/items';
import { toNodeError } from '../CloudSync/helpers/errors';
import { SYNC_DESCRIPTION } from '../CloudSync/CloudSync.node';
import { cloudsInProse, credentialTestMethods, labelsExpression, listSearchMethods, triggerCredentials, WATCHABLE } from '../CloudSync/clouds/registry';

interface TriggerState {
	/** Which cloud and folder the cursor belongs to; a change of folder starts over. */
	location?: string;
	cursor?: string;
}

const EVENTS = ['added', 'modified', 'deleted', 'moved'] as const;
const RECENT_SAMPLE = 10;
/** What the clouds' change feeds cannot tell apart, so that nobody waits for an event that never comes. */
const FEED_NOTES = WATCHABLE.flatMap((cloud) => (cloud.changeFeed?.note ? [cloud.changeFeed.note] : []));

export class CloudSyncTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Cloud Sync Trigger',
		name: 'cloudSyncTrigger',
		icon: { light: 'file:cloudSyncTrigger.svg', dark: 'file:cloudSyncTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: `={{ "Changes in " + (${labelsExpression()}[$parameter["targetCloud"]] || $parameter["targetCloud"]) }}`,
		// n8n's node creator lists this trigger inside the Cloud Sync entry (its type is Cloud Sync's plus "Trigger") and shows
		// this description, not Cloud Sync's, under that entry: it names what both do, the sync first, as a search for "sync" finds it.
		description: `${SYNC_DESCRIPTION}, or start a workflow when files change in a ${cloudsInProse(WATCHABLE, 'or')} folder`,
		defaults: { name: 'Cloud Sync Trigger' },
		polling: true,
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: triggerCredentials(),
		properties: [
			{
				displayName:
					'The first activation records where the folder stands and emits nothing; each poll then emits what changed since the last one. A test run in the editor shows the most recent files instead.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			// The cloud comes first and is named for what the trigger does; its credential follows from it.
			...locationFields('target', {}, WATCHABLE).map((field) => (field.name === 'targetCloud' ? { ...field, displayName: 'Cloud to Watch', description: 'Where the folder is; the credential to pick follows from it' } : field)),
			{
				displayName: 'Events',
				name: 'events',
				type: 'multiOptions',
				default: [...EVENTS],
				options: EVENTS.map((event) => ({ name: event[0].toUpperCase() + event.slice(1), value: event })),
				description: ['Which kinds of change start the workflow.', ...FEED_NOTES].join(' '),
			},
			filterOptions,
		],
	};

	methods = {
		credentialTest: credentialTestMethods(WATCHABLE),
		listSearch: listSearchMethods(WATCHABLE),
	};

	async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
		const state = this.getWorkflowStaticData('node') as TriggerState;
		try {
			const location = await openLocation(this, 'target', 0);
			const { provider } = location;
			if (!provider.changeCursor || !provider.changesSince) {
				throw new NodeOperationError(this.getNode(), `${location.label} has no change feed`, {
					description: 'Use a Schedule Trigger with a Cloud Sync node for this folder instead.',
				});
			}
			const filter = createFilter(readFilter(this, 0));
			const events = this.getNodeParameter('events', [...EVENTS]) as string[];
			const wanted = (change: Change) =>
				events.includes(change.kind) && (change.isDir || change.kind === 'deleted' || !change.entry || filter.includesFile(change.entry));
			const toItem = (change: Change): INodeExecutionData => ({
				json: {
					event: change.kind,
					path: change.path,
					previousPath: change.previousPath,
					type: change.isDir ? 'folder' : 'file',
					...(change.entry ? entryJson(change.entry, location.label) : { cloud: location.label }),
				} as IDataObject,
			});

			if (this.getMode() === 'manual') {
				// The editor's test run: show what recent changes look like without touching the saved cursor.
				const recent: Entry[] = [];
				for await (const entry of provider.list('', { recursive: true })) if (!entry.isDir && filter.includesFile(entry)) recent.push(entry);
				recent.sort((a, b) => b.modTime - a.modTime);
				const sample = recent.slice(0, RECENT_SAMPLE).map((entry): Change => ({ kind: 'modified', path: entry.path, entry, isDir: false }));
				return sample.length > 0 ? [sample.map(toItem)] : null;
			}

			if (state.location !== location.label || !state.cursor) {
				state.cursor = await provider.changeCursor();
				state.location = location.label;
				return null;
			}
			let page;
			try {
				page = await provider.changesSince(state.cursor);
			} catch (error) {
				if (!(error instanceof CursorExpiredError)) throw toNodeError(this.getNode(), error, 0);
				// What changed meanwhile is unknown: start from a new cursor and ask for one pass over everything
				// (a Cloud Sync fed with this item syncs the path '', the whole folder).
				state.cursor = await provider.changeCursor();
				return [[{ json: { event: 'resync', path: '', reason: error.message, cloud: location.label } }]];
			}
			const items = page.changes.filter(wanted).map(toItem);
			state.cursor = page.cursor;
			return items.length > 0 ? [items] : null;
		} catch (error) {
			throw toNodeError(this.getNode(), error, 0);
		}
	}
}
