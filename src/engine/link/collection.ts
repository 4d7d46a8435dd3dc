import type { PollOptions } from '../../http/async-op.ts';
import { statusError } from '../../http/body.ts';
import type { HttpClient } from '../../http/client.ts';
import { EntryFieldReader, type EntryFields } from '../../xml/entry-fields.ts';
import { streamPages } from '../page-stream.ts';

/**
 * One side's resources for `link`, from its plain collection URL (spec 1.4: "standard SData query requests on
 * collection URLs"), page after page by `next` links, each entry's fields handed on as it is read: nothing of the
 * collection is held. A resource's uuid is the one its payload shows; none means it has no link yet (1.2).
 */

export interface ReadCollectionOptions {
  client: HttpClient;
  /** `{dataset base}/{kind}`. */
  collection: string;
  /** Property paths of the natural key. */
  fields: readonly string[];
  /** `count` asked for on the first page (later pages follow the provider's next links as given). */
  pageSize?: number | undefined;
  maxEntryBytes?: number | undefined;
  poll?: Partial<PollOptions> | undefined;
  signal?: AbortSignal | undefined;
  onEntry: (f: EntryFields) => void;
  onBytes?: (n: number) => void;
}

export interface CollectionRead {
  entries: number;
  pages: number;
  /** The resource element of the first entry (what link requests carry). */
  element: { local: string; uri: string } | undefined;
}

export async function readCollection(o: ReadCollectionOptions): Promise<CollectionRead> {
  const url = o.pageSize === undefined ? o.collection : `${o.collection}?count=${o.pageSize}`;
  const get = () => o.client.request({ method: 'GET', url, headers: { accept: 'application/atom+xml' } });
  const first = await get();
  if (first.statusCode !== 200) throw await statusError('GET', first, 'reading the collection');
  const reader = new EntryFieldReader(o.fields);
  let entries = 0;
  let element: CollectionRead['element'];
  let source = url;
  const { pages } = await streamPages({
    client: o.client, first, again: get, firstUrl: url, poll: o.poll, signal: o.signal, syncFeed: false,
    ...(o.maxEntryBytes === undefined ? {} : { maxEntryBytes: o.maxEntryBytes }),
    ...(o.onBytes ? { onBytes: o.onBytes } : {}),
    beforePage: (u) => {
      source = u;
    },
    sink: {
      head: () => undefined,
      entry: (rec) => {
        const f = reader.read(rec, source);
        entries++;
        element ??= f.element;
        o.onEntry(f);
      },
      ready: () => undefined,
    },
  });
  return { entries, pages, element };
}
