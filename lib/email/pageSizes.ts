/** The paper sizes a PDF can be laid out on; apart from pdf.ts so that the node's description lists them without loading the PDF and mail libraries. */
export const PAGE_SIZES = ['A3', 'A4', 'A5', 'LEGAL', 'LETTER'] as const;
export type PageSize = (typeof PAGE_SIZES)[number];
