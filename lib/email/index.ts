export { EmailInputError, emailFromNodeJson, parseAddressList, parseRawEmail, type Address, type EmailAttachment, type EmailMessage } from './message';
export { PAGE_SIZES, formatAddresses, formatSize, renderEmailPdf, type PageSize, type RenderOptions, type RenderedEmail } from './pdf';
export { pdfFileName, safeFileName } from './fileName';
export { htmlToBlocks, textToBlocks, type Block, type Span } from './body';
