/**
 * Relay-style connections over the forge's `page`/`per_page`/`X-Next-Page` pagination.
 *
 * Cursors are opaque (base64url of an absolute offset), so a client can ask for any `first`
 * after any cursor: the window is served from at most two upstream pages of size `first`,
 * and from exactly one when the client keeps the same `first` (the usual case).
 */
import { badUserInputError } from '../errors/codes.js';
import type { UpstreamPage } from './client.js';

/** The `first`/`after` arguments of a connection field. */
export interface ConnectionArgs {
  readonly first?: number | null;
  readonly after?: string | null;
}

/** A connection as the schema declares it (`nodes`, `edges`, `pageInfo`). */
export interface Connection<T> {
  readonly nodes: T[];
  readonly edges: { cursor: string; node: T }[];
  readonly pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

/** Page size when `first` is not given, and the largest allowed (the forge's own maximum). */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const PREFIX = 'sg1:';

/** Encodes an absolute offset as an opaque cursor. */
export function encodeCursor(offset: number): string {
  return Buffer.from(PREFIX + offset, 'utf8').toString('base64url');
}

/** Decodes a cursor; a cursor that scopegate did not make is a BAD_USER_INPUT. */
export function decodeCursor(cursor: string): number {
  const text = cursor.length <= 64 ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^sg1:(\d{1,9})$/.exec(text);
  if (!m) throw badUserInputError('"after" is not a valid cursor');
  return Number(m[1]);
}

/**
 * Serves one window of a list: `fetchPage(page, perPage)` calls the upstream list endpoint,
 * `map` turns each item into the GraphQL model. Items `keep` refuses are left out of the window
 * (which then holds fewer than `first`); the others keep their cursors, so paging on after a
 * window skips nothing and shows nothing twice.
 */
export async function paginate<T, M>(
  args: ConnectionArgs,
  fetchPage: (page: number, perPage: number) => Promise<UpstreamPage<T>>,
  map: (item: T) => M,
  keep?: (item: T) => boolean,
): Promise<Connection<M>> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badUserInputError(`"first" must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  const start = args.after ? decodeCursor(args.after) + 1 : 0;
  if (first === 0) {
    return {
      nodes: [],
      edges: [],
      pageInfo: {
        hasNextPage: false,
        hasPreviousPage: start > 0,
        startCursor: null,
        endCursor: null,
      },
    };
  }
  const pageNo = Math.floor(start / first) + 1;
  const skip = start % first;
  const a = await fetchPage(pageNo, first);
  let items = a.items.slice(skip, skip + first);
  let hasNextPage = a.items.length > skip + first || a.nextPage !== undefined;
  if (items.length < first && a.nextPage !== undefined && skip > 0) {
    const b = await fetchPage(a.nextPage, first);
    const needed = first - items.length;
    items = items.concat(b.items.slice(0, needed));
    hasNextPage = b.items.length > needed || b.nextPage !== undefined;
  }
  const edges: { cursor: string; node: M }[] = [];
  items.forEach((item, i) => {
    if (!keep || keep(item)) edges.push({ cursor: encodeCursor(start + i), node: map(item) });
  });
  return {
    nodes: edges.map((e) => e.node),
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      // The window's last position even when `keep` left that item out, so that a client
      // pages on from where this window ended (and never stalls on a window left empty).
      endCursor: items.length > 0 ? encodeCursor(start + items.length - 1) : null,
    },
  };
}
