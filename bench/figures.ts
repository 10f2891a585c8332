/** Summaries of repeated runs and the plain-text tables they are printed in, shared by every case. */

export function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function round(value: number, digits: number): number {
	const scale = 10 ** digits;
	return Math.round(value * scale) / scale;
}

/** The median when every run has a figure, null otherwise. */
export function medianOf(values: Array<number | null>, digits: number): number | null {
	return values.length === 0 || values.includes(null) ? null : round(median(values as number[]), digits);
}

export function highest(values: Array<number | null>): number | null {
	return values.length === 0 || values.includes(null) ? null : round(Math.max(...(values as number[])), 1);
}

export type Cell = string | number | null;

/** Prints a table: the first column left-aligned, figures right-aligned, a missing figure as '-'. */
export function printTable(headers: string[], rows: Cell[][]): void {
	const cells = rows.map((row) => row.map((value) => (value === null ? '-' : String(value))));
	const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((line) => line[column].length)));
	const format = (line: string[]) => line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
	console.log(`\n${format(headers)}\n${widths.map((width) => '-'.repeat(width)).join('  ')}`);
	for (const line of cells) console.log(format(line));
}

/** Goals to report against, not to assert. */
export interface Targets {
	maxRatio?: number;
	maxRssMiB?: number;
	maxSeconds?: number;
}

/** The figures targets are checked on; rows without rclone have no ratio. */
interface Judged {
	ours_s: number;
	ours_peak_rss_mib: number;
	ratio?: number | null;
}

/** One line per target of `label`'s row ("case 3"), saying whether it was met. */
export function targetVerdicts(label: string, targets: Targets, row: Judged): string[] {
	const { maxRatio, maxRssMiB, maxSeconds } = targets;
	const verdict = (text: string, met: boolean) => `${label}: ${text} — ${met ? 'met' : 'MISSED'}`;
	const verdicts: string[] = [];
	if (maxRatio !== undefined) {
		verdicts.push(row.ratio === undefined || row.ratio === null ? `${label}: ratio ≤ ${maxRatio} — no rclone figure` : verdict(`ratio ${row.ratio} ≤ ${maxRatio}`, row.ratio <= maxRatio));
	}
	if (maxRssMiB !== undefined) verdicts.push(verdict(`our peak RSS ${row.ours_peak_rss_mib} MiB ≤ ${maxRssMiB} MiB`, row.ours_peak_rss_mib <= maxRssMiB));
	if (maxSeconds !== undefined) verdicts.push(verdict(`${row.ours_s} s < ${maxSeconds} s`, row.ours_s < maxSeconds));
	return verdicts;
}
