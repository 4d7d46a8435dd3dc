import { SaxesParser, type EventName } from 'saxes';
import { SdataError } from '../protocol/errors.ts';

export type NsParser = SaxesParser<{ xmlns: true; position: true }>;

/**
 * Every saxes parser in the process comes from here, for speed: saxes keeps handlers in fields that `on()` adds
 * lazily, so parsers with different handler sets have different hidden classes, and saxes' hot functions, once
 * they have seen two, run polymorphic for the rest of the process. Measured: parsing the 1 KB target digest with
 * its own parser before a 118 MB feed cost the feed parse 6% more instructions. Here the handler fields we use
 * exist from the start, in one order, so all our parsers share one shape whatever handlers they then set.
 * Only these few: creating all thirteen (computed-key stores) tips V8 into dictionary mode, 4x slower.
 * A parser that needs another event must add it to HANDLED, not call on() for it.
 *
 * Never register an 'error' handler: with one, V8 stops inlining saxes' scanning paths (about 3x slower). Without
 * it saxes throws from write()/close(), and callers turn that into an SdataError with the position.
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
