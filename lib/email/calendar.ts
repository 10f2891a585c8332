import ICAL from 'ical.js';

/** One event of a calendar invite (text/calendar), as a reader wants it on paper. */
export interface CalendarEvent {
	/** REQUEST (an invitation), CANCEL, REPLY, PUBLISH… */
	method?: string;
	summary: string;
	start?: Date;
	end?: Date;
	allDay: boolean;
	location?: string;
	organizer?: string;
	attendees: string[];
	description?: string;
}

function person(property: ICAL.Property | null): string | undefined {
	if (!property) return undefined;
	const address = String(property.getFirstValue() ?? '').replace(/^mailto:/i, '');
	const name = property.getParameter('cn');
	const cn = typeof name === 'string' ? name : undefined;
	return cn && address ? `${cn} <${address}>` : cn || address || undefined;
}

const STATUS: Record<string, string> = { ACCEPTED: 'accepted', DECLINED: 'declined', TENTATIVE: 'tentative', 'NEEDS-ACTION': 'not answered yet', DELEGATED: 'delegated' };

/** The events of an iCalendar file (ical.js); an unreadable calendar gives none. */
export function calendarEvents(text: string): CalendarEvent[] {
	let root: ICAL.Component;
	try {
		root = new ICAL.Component(ICAL.parse(text));
	} catch {
		return [];
	}
	// Times given in a VTIMEZONE of the invite are read in that zone.
	for (const zone of root.getAllSubcomponents('vtimezone')) {
		const timezone = new ICAL.Timezone(zone);
		if (!ICAL.TimezoneService.has(timezone.tzid)) ICAL.TimezoneService.register(timezone);
	}
	const method = root.getFirstPropertyValue('method');
	return root.getAllSubcomponents('vevent').map((component) => {
		const event = new ICAL.Event(component);
		const attendees = component.getAllProperties('attendee').map((attendee) => {
			const status = attendee.getParameter('partstat');
			const label = typeof status === 'string' ? STATUS[status.toUpperCase()] : undefined;
			return `${person(attendee) ?? ''}${label ? ` (${label})` : ''}`;
		});
		return {
			method: typeof method === 'string' ? method.toUpperCase() : undefined,
			summary: event.summary ?? '',
			start: event.startDate?.toJSDate(),
			end: event.endDate?.toJSDate(),
			allDay: event.startDate?.isDate ?? false,
			location: event.location || undefined,
			organizer: person(component.getFirstProperty('organizer')),
			attendees: attendees.filter((attendee) => attendee !== ''),
			description: event.description || undefined,
		};
	});
}
