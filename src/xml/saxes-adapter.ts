import { SaxesParser, type EventName, type SaxesTagNS } from 'saxes';
import { SdataError } from '../protocol/errors.ts';

/**
 * The one module that knows saxes beyond its public API. saxes is pinned to exactly this version (package.json):
 * the readers rely on a few of its internals for speed, and test/xml/saxes-adapter.test.ts checks each of them, by
 * name, against the installed saxes. Everything else uses saxes' public API, through parsers made here.
 *
 * Internals used (saxes 6.0.0, lib/saxes.js):
 * - the handler fields `on()`/`off()` write (`textHandler`, `cdataHandler`, `openTagHandler`, `closeTagHandler`):
 *   set directly, because `on()` is a computed-key store, too slow to call per element;
 * - `tags`, the stack of open elements (popped before the close handler runs);
 * - `_init()`, what `close()` does to reset the parser, minus its checks and its `end` event;
 * - `state`, whose value 13 (S_TEXT) means "between markup": after an end tag, in character data.
 *
 * Checks made while parsing (limits on depth, names, attribute values, text outside entries…) belong to the
 * handlers of the reader that knows what is allowed where; checks on the raw text itself belong in `drive()`,
 * through which every character reaches saxes.
 */
export const SAXES_VERSION = '6.0.0';

export type NsParser = SaxesParser<{ xmlns: true; position: true }>;
export type TextHandler = (text: string) => void;
export type TagHandler = (tag: SaxesTagNS) => void;

/** The saxes 6 internals listed above, as they are typed here and nowhere else. */
interface Internals {
  textHandler: TextHandler | undefined;
  cdataHandler: TextHandler | undefined;
  openTagHandler: TagHandler | undefined;
  closeTagHandler: TagHandler | undefined;
  readonly tags: readonly unknown[];
  readonly state: number;
  _init(): void;
}

/** saxes 6's number for its S_TEXT state (the index of `sText` in its state table). */
const S_TEXT = 13;

/**
 * Every saxes parser in the process comes from here, for speed: saxes keeps handlers in fields that `on()` adds
 * lazily, so parsers with different handler sets have different hidden classes, and saxes' hot functions, once
 * they have seen two, run polymorphic for the rest of the process. Measured: parsing the 1 KB target digest with
 * its own parser before a 118 MB feed cost the feed parse 6% more instructions. Here the handler fields we use
 * exist from the start, in one order, so all our parsers share one shape whatever handlers they then set.
 * Only these few: creating all thirteen (computed-key stores) tips V8 into dictionary mode, 4x slower.
 * A parser that needs another event must add it to HANDLED, not call on() for it.
 *
 * Never register an 'error' handler: with one, V8 stops inlining saxes' scanning paths (about 3x slower: 14k vs
 * 44k entries/s of ~1.2 KB, measured). Without it saxes throws from write()/close(), and drive() turns that into
 * an SdataError with the position.
 */
const HANDLED: readonly EventName[] = ['xmldecl', 'doctype', 'opentag', 'closetag', 'text', 'cdata'];

export function createParser(fileName?: string): NsParser {
  const p = new SaxesParser({ xmlns: true, position: true, fileName });
  for (const ev of HANDLED) p.off(ev);
  return p;
}

/**
 * Writes text to the parser (null = close), telling saxes' own well-formedness errors — their message starts with
 * the parser's file name and position — from errors our handlers throw: the former go through `malformed` with the
 * bare message (the caller puts the position, the parser's line and column, where its messages have it), the latter
 * pass unchanged.
 */
export function drive(p: NsParser, text: string | null, source: string, malformed: (message: string, cause: Error) => Error): void {
  try {
    if (text === null) p.close();
    else p.write(text);
  } catch (e) {
    if (e instanceof SdataError || !(e instanceof Error) || !e.message.startsWith(`${source}:`)) throw e;
    throw malformed(e.message.slice(source.length + 1).replace(/^\d+:\d+: /, ''), e);
  }
}

/**
 * Sets (or, with undefined, clears) the handler of both character data and CDATA sections. While none is set,
 * saxes skips its text bookkeeping, so readers set one only around the few elements whose text they want.
 */
export function setTextHandler(p: NsParser, h: TextHandler | undefined): void {
  const i = p as unknown as Internals;
  i.textHandler = h;
  i.cdataHandler = h;
}

/** Sets the start- and end-tag handlers (undefined: no event), cheaply enough to switch them per element. */
export function setTagHandlers(p: NsParser, open: TagHandler | undefined, close: TagHandler | undefined): void {
  const i = p as unknown as Internals;
  i.openTagHandler = open;
  i.closeTagHandler = close;
}

/** How many elements are open; inside a close handler, the closed one no longer counts. */
export function openElements(p: NsParser): number {
  return (p as unknown as Internals).tags.length;
}

/**
 * Makes the parser new again, handlers kept: a reader that reads many documents keeps one parser, so V8 keeps one
 * set of optimised code and call-site feedback for saxes and the handlers (measured: 8× the compilations with a
 * parser per piece). Unlike close(), it neither checks that the document was complete nor emits `end`.
 */
export function restartParser(p: NsParser): void {
  (p as unknown as Internals)._init();
}

/**
 * True when the parser stands in character data, outside any markup: after a start or end tag, a comment, a PI or
 * a CDATA section, not inside a tag, a reference or a declaration. (saxes' `position` is only right inside its
 * handlers: after write() it counts the last chunk twice, so "where" must come from the caller.)
 */
export function inTextState(p: NsParser): boolean {
  return (p as unknown as Internals).state === S_TEXT;
}

/**
 * Tells one namespace URI from others fast. The URI strings saxes hands out are the same objects for every element
 * of one scope, equal in content to NS.* but not identical to it: remember the object that matched last, so the next
 * test is a pointer compare (a plain `===` on different objects compares characters).
 */
export class UriMatch {
  private readonly uri: string;
  /**
   * Not '' at first (as it was): that matched every name in no namespace until the URI had been seen once; nor the
   * URI itself, which an equal string from saxes would match by content, every time, never taking its place.
   */
  private last: string | undefined = undefined;
  constructor(uri: string) {
    this.uri = uri;
  }
  is(u: string): boolean {
    if (u === this.last) return true;
    if (u !== this.uri) return false;
    this.last = u;
    return true;
  }
}
