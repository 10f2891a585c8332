import type { IDataObject, INodePropertyOptions } from 'n8n-workflow';
import { syncModeField } from '../actions/folder/shared';

/** How the Mode field names each mode, for messages and subtitles: read from the field, so that the two never differ. */
export const MODE_NAMES: Record<string, string> = Object.fromEntries((syncModeField({}).options as INodePropertyOptions[]).map((option) => [String(option.value), option.name]));

/** The modes that add to a photo library: nothing there is updated or deleted, and a file it does not take is skipped. */
const PHOTO_MODES = ['addToGooglePhotos'];

const number = (value: unknown) => (typeof value === 'number' ? value : 0);
const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

interface Count {
	/** As the one-line message says it after the number: "added", "moved to trash". */
	phrase: string;
	/** As the HTML report heads its row. */
	heading: string;
	value: number;
	/** Shown in the HTML report only. */
	detail?: boolean;
}

/** What a run did, read from its mode's summary (failures and bytes aside), each count as the message and the HTML report name it. */
function counts(summary: IDataObject, modeValue: string): Count[] {
	const dryRun = summary.dryRun === true;
	if (PHOTO_MODES.includes(modeValue)) {
		// A dry run lists the photos it would add; the summary counts them as toAdd.
		const added = number(dryRun ? summary.toAdd : summary.uploaded);
		return [
			{ phrase: `${added === 1 ? 'photo' : 'photos'} ${dryRun ? 'to add' : 'added'}`, heading: dryRun ? 'Photos to add' : 'Photos added', value: added },
			{ phrase: 'already added', heading: 'Already added before', value: number(summary.alreadyInLibrary), detail: true },
			{ phrase: 'skipped', heading: 'Skipped (not a photo or video Google Photos takes)', value: number(summary.skipped) },
		];
	}
	const planned = (summary.planned ?? {}) as IDataObject;
	const oneWayPlan = dryRun && typeof planned === 'object' && 'copy' in planned;
	const added = oneWayPlan ? number(planned.copy) : number(summary.added);
	const updated = oneWayPlan ? number(planned.update) : number(summary.updated);
	const deleted = oneWayPlan ? number(planned.delete) : number(summary.deleted) + (modeValue === 'move' ? number(summary.movedSourcesDeleted) : 0);
	const recovery = (summary.recovery ?? {}) as IDataObject;
	const kept = typeof recovery.destination === 'string' && !/for good/.test(recovery.destination);
	return [
		{ phrase: dryRun ? 'to add' : 'added', heading: dryRun ? 'To add' : 'Added', value: added },
		{ phrase: dryRun ? 'to update' : 'updated', heading: dryRun ? 'To update' : 'Updated', value: updated },
		dryRun
			? { phrase: 'to delete', heading: 'To delete', value: deleted }
			: kept
				? { phrase: 'moved to trash', heading: 'Deleted (moved to trash)', value: deleted }
				: { phrase: 'deleted', heading: 'Deleted', value: deleted },
	];
}

const seconds = (summary: IDataObject) => `${number(summary.durationSeconds).toFixed(1)} s`;

/** "Mirror Dropbox:/Photos → Google Drive:/Backups/Photos: 1 added, 1 updated, 1 moved to trash, 0 failed in 0.2 s" */
export function reportMessage(summary: IDataObject, modeValue: string): string {
	const name = MODE_NAMES[modeValue] ?? modeValue;
	const arrow = modeValue === 'twoWay' ? '⇄' : '→';
	const dryRun = summary.dryRun === true;
	const done = counts(summary, modeValue).filter((count) => !count.detail).map((count) => `${count.value} ${count.phrase}`);
	// A dry run fails nothing: it only reads.
	const said = (dryRun ? done : [...done, `${number(summary.failed)} failed`]).join(', ');
	const refused = summary.status === 'refused' && typeof summary.refusal === 'string' ? ` (refused: ${summary.refusal})` : '';
	return `${name}${dryRun ? ' (dry run)' : ''} ${String(summary.source)} ${arrow} ${String(summary.destination)}: ${said} in ${seconds(summary)}${refused}`;
}

const escape = (text: unknown) =>
	String(text ?? '').replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

function bytesText(bytes: number): string {
	const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
	let value = bytes;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return unit === 0 ? plural(bytes, 'byte') : `${value.toFixed(1)} ${units[unit]}`;
}

const RESULTS: Record<string, string> = { success: 'Success', partial: 'Partly done', failed: 'Failed', planned: 'Dry run: nothing changed', refused: 'Refused: nothing changed', cancelled: 'Cancelled' };

/**
 * The run as an HTML table (MultCloud's task report: task, result, times, folders, counts, failed
 * files), with inline styles only, so a Send Email node sends it as it is.
 */
export function reportHtml(summary: IDataObject, modeValue: string, task: string): string {
	const dryRun = summary.dryRun === true;
	const status = String(summary.status ?? '');
	const errors = Array.isArray(summary.errors) ? (summary.errors as IDataObject[]) : [];
	const cell = 'style="padding:4px 12px;border:1px solid #ddd;text-align:left"';
	const rows: Array<[string, string]> = [
		['Task', escape(task)],
		['Mode', escape(`${MODE_NAMES[modeValue] ?? modeValue}${dryRun ? ' (dry run)' : ''}`)],
		['Result', escape(RESULTS[status] ?? status) + (typeof summary.refusal === 'string' ? `: ${escape(summary.refusal)}` : '')],
		['Start', escape(summary.startedAt)],
		['End', escape(summary.finishedAt)],
		['Duration', escape(seconds(summary))],
		// Two-Way has no direction: its folders are Left and Right, as in the panel.
		[modeValue === 'twoWay' ? 'Left' : 'From', escape(summary.source)],
		[modeValue === 'twoWay' ? 'Right' : 'To', escape(summary.destination)],
		...counts(summary, modeValue).map((count): [string, string] => [escape(count.heading), String(count.value)]),
		['Transferred', escape(bytesText(number(summary.bytes)))],
		['Failed', String(number(summary.failed))],
	];
	const failedFiles = errors.length
		? `<p style="font-family:sans-serif">Failed files:</p><ul style="font-family:sans-serif">${errors
				.map((error) => `<li>${escape(error.path)}: ${escape(error.message)}</li>`)
				.join('')}</ul>${number(summary.errorsNotListed) > 0 ? `<p style="font-family:sans-serif">and ${number(summary.errorsNotListed)} more.</p>` : ''}`
		: '';
	const body = rows.map(([name, value]) => `<tr><th ${cell}>${name}</th><td ${cell}>${value}</td></tr>`).join('');
	return `<table style="border-collapse:collapse;font-family:sans-serif;font-size:14px">${body}</table>${failedFiles}`;
}

/** The summary item: a one-line message and an HTML report first, then every figure of the mode's report. */
export function describedSummary(summary: IDataObject, modeValue: string, task: string): IDataObject {
	return { message: reportMessage(summary, modeValue), ...summary, html: reportHtml(summary, modeValue, task) };
}
