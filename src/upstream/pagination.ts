/**
 * Relay-style connections over the forge's `page`/`per_page`/`X-Next-Page` pagination.
 *
 * Cursors are opaque: an absolute offset in the forge's list, sealed with a key (one AES block,
 * so a client can neither read an offset nor make one). A list the gateway filters (internal
 * notes) therefore shows no gaps where it left items out. A client can ask for any `first`
 * after any cursor: the window is served from at most two upstream pages of size `first`, and
 * from exactly one when the client keeps the same `first` (the usual case).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { badUserInputError } from '../errors/codes.js';
import type { CallOptions, UpstreamClient, UpstreamPage } from './client.js';

/** The `first`/`after` arguments of a connection field. */
export interface ConnectionArgs {
  readonly first?: number | null;
  readonly after?: string | null;
}

/** One edge of a connection. */
export interface Edge<T> {
  readonly cursor: string;
  readonly node: T;
}

/** A connection as the schema declares it (`nodes`, `edges`, `pageInfo`). */
export interface Connection<T> {
  readonly nodes: T[];
  readonly edges: Edge<T>[];
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
}

/** Page size when `first` is not given, and the largest allowed (the forge's own maximum). */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Largest offset a cursor holds. */
const MAX_OFFSET = 999_999_999;
/** The first 12 bytes of every sealed block: a cursor that decrypts to anything else is foreign. */
const MAGIC = Buffer.from('sg-cursor-v2', 'latin1');

/** Seals offsets into cursors and opens them. */
export interface CursorCodec {
  encode(offset: number): string;
  /** The offset; BAD_USER_INPUT for a cursor this codec did not make. */
  decode(cursor: string): number;
}

/** The AES key a cursor secret gives (the secret itself is never the key). */
const cursorKey = (secret: string | Buffer): Buffer =>
  createHmac('sha256', secret).update('scopegate cursor key v2').digest();

/**
 * A codec keyed by `secret`. Instances that share the secret read each other's cursors, so a
 * client may page on through another instance of a fleet; the key is derived from it, never the
 * secret itself. Cursors sealed with one of `previous` are still opened (never made), so a
 * secret can be rotated without failing the clients paging at that moment.
 */
export function createCursorCodec(
  secret: string | Buffer,
  previous: readonly (string | Buffer)[] = [],
): CursorCodec {
  // One block per cursor: ECB over a single block is a keyed permutation. The cipher objects
  // are reused; without padding each 16-byte update answers its own block at once.
  const seal = createCipheriv('aes-256-ecb', cursorKey(secret), null).setAutoPadding(false);
  const openers = [secret, ...previous].map((s) =>
    createDecipheriv('aes-256-ecb', cursorKey(s), null).setAutoPadding(false),
  );
  const block = Buffer.alloc(16);
  MAGIC.copy(block);
  return {
    encode(offset) {
      block.writeUInt32BE(offset, 12);
      return seal.update(block).toString('base64url');
    },
    decode(cursor) {
      const sealed = cursor.length === 22 ? Buffer.from(cursor, 'base64url') : undefined;
      if (sealed?.length === 16) {
        for (const open of openers) {
          const plain = open.update(sealed);
          const offset = plain.readUInt32BE(12);
          if (plain.subarray(0, 12).equals(MAGIC) && offset <= MAX_OFFSET) return offset;
        }
      }
      throw badUserInputError('"after" is not a valid cursor');
    },
  };
}

/** The codec of this process when none is given (a random key: tests, one-off tools). */
const PROCESS_CURSORS = createCursorCodec(randomBytes(32));

/** Seals an absolute offset into a cursor (this process's key unless `codec` is given). */
export function encodeCursor(offset: number, codec: CursorCodec = PROCESS_CURSORS): string {
  return codec.encode(offset);
}

/** Opens a cursor; a cursor that scopegate did not make is a BAD_USER_INPUT. */
export function decodeCursor(cursor: string, codec: CursorCodec = PROCESS_CURSORS): number {
  return codec.decode(cursor);
}

/** Options of {@link paginate}. */
export interface PaginateOptions<T> {
  /** Items it refuses are left out of the window (and the window is filled from later pages). */
  readonly keep?: ((item: T) => boolean) | undefined;
  /** The gateway's cursor codec (`GatewayContext.cursors`). Default: this process's. */
  readonly cursors?: CursorCodec | undefined;
}

/** Most extra pages read to fill a window that `keep` thinned out. */
const MAX_FILL_PAGES = 3;

/**
 * Serves one window of a list: `fetchPage(page, perPage)` calls the upstream list endpoint,
 * `map` turns each item into the GraphQL model. Items `options.keep` refuses are left out, and
 * the window is filled from the following pages (at most {@link MAX_FILL_PAGES} more), so a
 * client sees neither a gap nor, short of a long run of refused items, a short window. `edges`
 * and the cursors are made only when asked for (most clients select `nodes`).
 */
export async function paginate<T, M>(
  args: ConnectionArgs,
  fetchPage: (page: number, perPage: number) => Promise<UpstreamPage<T>>,
  map: (item: T) => M,
  options: PaginateOptions<T> = {},
): Promise<Connection<M>> {
  const codec = options.cursors ?? PROCESS_CURSORS;
  const keep = options.keep;
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badUserInputError(`"first" must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  const start = args.after ? codec.decode(args.after) + 1 : 0;
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
  // Positions (offsets in the forge's list) of the items shown, and the last position looked at.
  const positions: number[] = [];
  const nodes: M[] = [];
  let last = start + items.length - 1;
  if (!keep) {
    items.forEach((item, i) => {
      positions.push(start + i);
      nodes.push(map(item));
    });
  } else {
    let next = start;
    let batch = items;
    for (let fills = 0; ; fills++) {
      for (const item of batch) {
        if (nodes.length === first) {
          // More follows; `last` stays at the item that filled the window.
          hasNextPage = true;
          break;
        }
        if (keep(item)) {
          positions.push(next);
          nodes.push(map(item));
        }
        last = next;
        next += 1;
      }
      if (nodes.length === first || !hasNextPage || fills === MAX_FILL_PAGES) break;
      const page = await fetchPage(Math.floor(next / first) + 1, first);
      batch = page.items.slice(next % first);
      if (batch.length === 0) {
        hasNextPage = false;
        break;
      }
      hasNextPage = page.nextPage !== undefined;
    }
  }
  let edges: Edge<M>[] | undefined;
  return {
    nodes,
    get edges() {
      return (edges ??= nodes.map((node, i) => ({
        cursor: codec.encode(positions[i] ?? 0),
        node,
      })));
    },
    pageInfo: {
      hasNextPage,
      hasPreviousPage: start > 0,
      get startCursor() {
        return positions.length > 0 ? codec.encode(positions[0] ?? 0) : null;
      },
      // The last position looked at, even when `keep` left that item out: a client pages on
      // from where this window ended.
      get endCursor() {
        return last >= start ? codec.encode(last) : null;
      },
    },
  };
}

/** How {@link walkForgePages} ended: `visit` stopped it, the list ended, or `maxPages` were read with more left. */
export type PageWalkEnd = 'stopped' | 'end' | 'limit';

/**
 * Reads a whole forge list for the gateway's own checks (not a client's window), 100 items a
 * page in order, handing each page to `visit` until it returns true, the list ends, or
 * `maxPages` pages were read and more remain.
 */
export async function walkForgePages<T>(
  client: Pick<UpstreamClient, 'list'>,
  path: string,
  callOptions: CallOptions,
  maxPages: number,
  visit: (items: T[]) => boolean,
): Promise<PageWalkEnd> {
  let page: number | undefined = 1;
  for (let read = 0; page !== undefined; read++) {
    if (read === maxPages) return 'limit';
    const got: UpstreamPage<T> = await client.list<T>(path, { page, per_page: 100 }, callOptions);
    if (visit(got.items)) return 'stopped';
    page = got.nextPage;
  }
  return 'end';
}
