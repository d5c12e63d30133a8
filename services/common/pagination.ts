import { InvalidArgumentError } from './errors';

export interface Page {
  offset: number;
  size: number;
}

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

/** Reads page_size and page_token. Tokens are opaque to clients: base64url of the next offset. */
export function readPage(pageSize: unknown, pageToken: unknown): Page {
  if (
    typeof pageSize !== 'number' ||
    !Number.isInteger(pageSize) ||
    pageSize < 0 ||
    pageSize > MAX_PAGE_SIZE
  ) {
    throw new InvalidArgumentError('page_size', `must be an integer between 0 and ${MAX_PAGE_SIZE}`);
  }
  const size = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  if (pageToken === '' || pageToken === undefined) return { offset: 0, size };
  if (typeof pageToken !== 'string' || pageToken.length > 64)
    throw new InvalidArgumentError('page_token', 'is not a token from a previous page');
  const match = /^o(\d{1,9})$/.exec(Buffer.from(pageToken, 'base64url').toString('utf8'));
  if (!match) throw new InvalidArgumentError('page_token', 'is not a token from a previous page');
  return { offset: Number(match[1]), size };
}

/** The token for the page after `page`, or '' when `fetched` shows this was the last one. */
export function nextPageToken(page: Page, fetched: number): string {
  if (fetched <= page.size) return '';
  return Buffer.from(`o${page.offset + page.size}`, 'utf8').toString('base64url');
}
