import { toChars } from '../../xml/canonical-text.ts';
import { recordInChars } from '../../xml/entry-record.ts';
import type { EntryRecord } from '../../xml/feed-types.ts';
import { hasListWork } from '../payload/child-lists.ts';
import { storedResource } from '../payload/fragment.ts';
import { MAX_TICK_DIGITS } from '../store/repositories.ts';

/**
 * What a posted sync-feed entry contributes once parsed: everything the target needs to apply it, and nothing it
 * does not (the entry's full text is gone; the resource element is kept as a self-contained fragment). A plain
 * object of strings and numbers, so that immediate-mode entries can be staged as JSON.
 */
export type Incoming = Pick<EntryRecord, 'index' | 'line' | 'column' | 'atomId' | 'uuid' | 'isDeleted' | 'state' | 'invalid'> & {
  /** The entry's `http:httpMethod` (EntryRecord.httpMethod), if it has one. */
  method: string | undefined;
  /**
   * The resource element as stored: self-contained (storedFragment), in characters. Read it through fragmentText():
   * a record read as bytes gives `fragmentBytes` instead, and the characters are only decoded when needed.
   */
  fragment: string | undefined;
  /** The same fragment as UTF-8 in a Latin-1 string, when the record's text was bytes (EntryRecord.textBytes). */
  fragmentBytes: string | undefined;
  /**
   * The fragment is the resource element exactly as it came (resourceBytes of the reader, when it has them, are its
   * UTF-8: the store may take those instead of encoding the string again).
   */
  verbatim: boolean;
  /** The fragment has a child list that is not complete, or deleted children: it must be merged (child-lists.ts). */
  lists: boolean;
};

/**
 * The pure, store-independent half of applying an entry: validation and the fragment to store. A record whose text
 * is bytes is read as bytes where the answer is the same (storedResource), so that the common entry is never decoded.
 */
export function toIncoming(rec: EntryRecord): Incoming {
  let invalid = rec.invalid;
  let fragment: string | undefined;
  let bodyStart = 0;
  let verbatim = false;
  if (invalid === undefined) {
    if (rec.state!.tick.length > MAX_TICK_DIGITS) invalid = `sync:tick has more than ${MAX_TICK_DIGITS} digits`;
    else {
      let stored = storedResource(rec, rec.uuid);
      if (stored === null) {
        rec = recordInChars(rec);
        stored = storedResource(rec, rec.uuid);
      }
      if (stored === undefined || stored === null) invalid = 'sdata:payload has no resource element';
      else ({ fragment, bodyStart, verbatim } = stored);
    }
  }
  if (invalid === undefined && rec.httpMethod !== undefined && rec.httpMethod !== 'POST' && rec.httpMethod !== 'PUT' && rec.httpMethod !== 'DELETE') {
    invalid = `http:httpMethod ${rec.httpMethod} cannot be applied from a sync feed`;
  }
  const bytes = rec.textBytes === true;
  // A deletion keeps no children (spec 6.1), so its lists never matter.
  // The scanner may have found it while it read the entry (EntryRecord.listWork): the same rule, without a second pass.
  const lists = fragment !== undefined && invalid === undefined && !rec.isDeleted && rec.httpMethod !== 'DELETE' &&
    (rec.listWork ?? hasListWork(fragment, bodyStart, bytes));
  return {
    index: rec.index, line: rec.line, column: rec.column, atomId: rec.atomId, uuid: rec.uuid, isDeleted: rec.isDeleted,
    method: rec.httpMethod, state: rec.state, invalid, fragment: bytes ? undefined : fragment, fragmentBytes: bytes ? fragment : undefined,
    verbatim, lists,
  };
}

/** The fragment in characters, decoded (once) from fragmentBytes when the record was read as bytes. */
export function fragmentText(inc: Incoming): string {
  if (inc.fragment === undefined && inc.fragmentBytes !== undefined) inc.fragment = toChars(inc.fragmentBytes);
  return inc.fragment!;
}

/** The fragment's UTF-8 when it came as bytes (stored as it is), else undefined. */
export function fragmentUtf8(inc: Incoming): Uint8Array | undefined {
  return inc.fragmentBytes === undefined ? undefined : Buffer.from(inc.fragmentBytes, 'latin1');
}
