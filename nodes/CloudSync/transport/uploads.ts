import type { IExecuteFunctions } from 'n8n-workflow';
import { ProviderStateStore, UploadSessions } from '../../../lib';
import type { Location } from './locations';
import { StaticDataStore } from './staticData';

/** The state's name in static data and, as `.cloudsync/uploads.state`, on the destination. */
const UPLOADS = 'uploads';

/**
 * Lets large uploads of this run resume in a later one: every side that can keep its upload sessions
 * gets one store, held in this node's static data and copied to the destination's `.cloudsync` folder.
 * n8n saves static data only when an execution succeeds, and a queue-mode worker starts each run
 * without it, so the copy on the destination is what survives a killed worker or a failed run.
 * Undefined when neither side can resume uploads.
 */
export function keepUploads(context: IExecuteFunctions, source: Location, destination: Location): UploadSessions | undefined {
	const sides = [source, destination].filter((side) => side.provider.keepUploads);
	if (sides.length === 0) return undefined;
	const uploads = new UploadSessions([new StaticDataStore(context.getWorkflowStaticData('node'), UPLOADS), new ProviderStateStore(destination.provider, UPLOADS)]);
	for (const side of sides) side.provider.keepUploads!(uploads);
	return uploads;
}
