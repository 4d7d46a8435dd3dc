import { SaxesParser, type EventName, type SaxesAttributeNS, type SaxesTagNS } from 'saxes';
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
 * - `state`, whose value 13 (S_TEXT) means "between markup": after an end tag, in character data; the other state
 *   numbers (saxes' S_* constants, in its state table's order) tell what is being read (see `pending()`);
 * - `openTagStartHandler` and `attributeHandler`, the fields of the `opentagstart` and `attribute` events, set
 *   directly like the others (the limits' per-element and per-attribute checks, limit-guard.ts);
 * - `attribList`, the attributes of the start tag being read, so far;
 * - the strings saxes accumulates until a construct ends: `text` (an attribute value, a comment, a CDATA section, a
 *   PI's body, character data while a text handler is set), `name` (an element or attribute name), `entity` (a
 *   reference's name), `piTarget`. Nothing bounds them in saxes: a reader reads their lengths between writes
 *   (`pending()`), and `dropPendingText()` empties `text` where no handler will ever see it.
 *
 * Checks made while parsing (limits on depth, names, attribute values, text outside entries…) belong to the
 * handlers of the reader that knows what is allowed where, and to the checks a reader makes between two writes of a
 * bounded slice of input (limit-guard.ts): between writes is where saxes' in-progress strings can be measured.
 */
export const SAXES_VERSION = '6.0.0';

export type NsParser = SaxesParser<{ xmlns: true; position: true }>;
export type TextHandler = (text: string) => void;
export type TagHandler = (tag: SaxesTagNS) => void;
export type AttributeHandler = (attr: SaxesAttributeNS) => void;

/** The saxes 6 internals listed above, as they are typed here and nowhere else. */
interface Internals {
  textHandler: TextHandler | undefined;
  cdataHandler: TextHandler | undefined;
  openTagHandler: TagHandler | undefined;
  closeTagHandler: TagHandler | undefined;
  openTagStartHandler: TagHandler | undefined;
  attributeHandler: AttributeHandler | undefined;
  readonly tags: readonly unknown[];
  readonly attribList: readonly unknown[];
  readonly state: number;
  readonly entityReturnState: number | undefined;
  text: string;
  readonly name: string;
  readonly entity: string;
  readonly piTarget: string;
  _init(): void;
}

/** saxes 6's state numbers (indexes in its state table) that the functions below tell apart. */
const S = {
  DOCTYPE: 2, // 2..12: the DOCTYPE and its internal subset
  DTD_LAST: 12,
  TEXT: 13,
  ENTITY: 14,
  COMMENT: 17, // 17..19
  CDATA: 20, // 20..22
  PI_FIRST_CHAR: 23, // 23..26: target and body of a processing instruction
  PI_BODY: 25,
  PI_ENDING: 26,
  XML_DECL: 27, // 27..33
  OPEN_TAG: 34, // 34..44: inside a start or end tag
  ATTRIB_VALUE_QUOTED: 40,
  ATTRIB_VALUE_UNQUOTED: 42,
  CLOSE_TAG: 43,
} as const;

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
  // The limits' handlers (setLimitHandlers) are created by plain stores, after the others: made by off() like them,
  // one more computed-key store, the parsers went 4.5x slower (reading an 8 MB feed: 550 instead of 123 CPU-ms).
  const i = p as unknown as Internals;
  i.openTagStartHandler = undefined;
  i.attributeHandler = undefined;
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

/**
 * Sets the handlers of `opentagstart` (an element's name has been read, before its attributes; it is not yet among
 * the open elements) and `attribute` (one attribute has been read; it already counts in `attributeCount()`).
 */
export function setLimitHandlers(p: NsParser, tagStart: TagHandler | undefined, attribute: AttributeHandler | undefined): void {
  const i = p as unknown as Internals;
  i.openTagStartHandler = tagStart;
  i.attributeHandler = attribute;
}

/** Attributes of the start tag being read, so far (inside an `attribute` handler: the one reported included). */
export function attributeCount(p: NsParser): number {
  return (p as unknown as Internals).attribList.length;
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
  return (p as unknown as Internals).state === S.TEXT;
}

/** True inside a start or end tag (its name, its attributes), where the last '<' read is the tag's. */
export function inTag(p: NsParser): boolean {
  return (p as unknown as Internals).state >= S.OPEN_TAG;
}

/** What saxes holds in its in-progress strings between two writes, and what it is reading. */
export interface Pending {
  /**
   * Length of `text`: the value of the attribute being read (`attributeValue`), or the comment, CDATA section, PI
   * body, character data (with a text handler) or declaration being read.
   */
  text: number;
  /** Length of the name being read (element, attribute, end tag, PI target, reference), and which. */
  name: number;
  nameOf: 'element' | 'attribute' | 'end tag' | 'processing-instruction target' | 'entity reference' | 'name';
  /** `text` is an attribute value. */
  attributeValue: boolean;
  /** Inside a DOCTYPE. */
  doctype: boolean;
}

/** Reads saxes' in-progress strings (between writes: the lengths are what one construct has accumulated so far). */
export function pending(p: NsParser): Pending {
  const i = p as unknown as Internals;
  const st = i.state;
  const ret = st === S.ENTITY ? i.entityReturnState : st;
  const nameLen = i.name.length;
  let name = nameLen;
  let nameOf: Pending['nameOf'] = st === S.OPEN_TAG ? 'element' : st >= S.OPEN_TAG + 3 && st < S.CLOSE_TAG ? 'attribute' : st >= S.CLOSE_TAG ? 'end tag' : 'name';
  if (i.entity.length > name) {
    name = i.entity.length;
    nameOf = 'entity reference';
  }
  if (i.piTarget.length > name) {
    name = i.piTarget.length;
    nameOf = 'processing-instruction target';
  }
  return {
    text: i.text.length,
    name,
    nameOf,
    attributeValue: ret === S.ATTRIB_VALUE_QUOTED || ret === S.ATTRIB_VALUE_UNQUOTED,
    doctype: st >= S.DOCTYPE && st <= S.DTD_LAST,
  };
}

/**
 * Empties what saxes holds of the comment, CDATA section or PI it is reading, for a reader that has no handler to
 * receive it: saxes keeps it only to hand it to that handler, and checks the construct's syntax on the characters
 * as they come. A PI body keeps one character, because saxes tells its first character by an empty `text`.
 */
export function dropPendingText(p: NsParser): void {
  const i = p as unknown as Internals;
  const st = i.state;
  if (st < S.COMMENT || st > S.PI_ENDING || i.text.length <= 1) return;
  i.text = st >= S.PI_FIRST_CHAR ? i.text.slice(-1) : '';
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
