import type { SdataErrorCode } from '../protocol/errors.ts';
import { limitMessage } from './limit-guard.ts';
import type { XmlLimits } from './limits.ts';

/** What a long construct is, by how it starts. */
type Kind = 'start tag' | 'end tag' | 'comment' | 'CDATA section' | 'processing instruction';

const TERMINATOR: Partial<Record<Kind, string>> = { comment: '-->', 'CDATA section': ']]>', 'processing instruction': '?>' };

const DQ = 34;
const SQ = 39;
const LT = 60;
const GT = 62;
const EQ = 61;

/** Where a long construct may go, and what it may hold: the caller's limits for this place in the document. */
export interface LongMarkupBounds {
  limits: XmlLimits;
  /** Characters the whole construct may have, and the limit that says so (its flag names the way to raise it). */
  maxChars: number;
  maxCharsKey: keyof XmlLimits | 'maxEntryBytes';
}

/**
 * A markup construct (start or end tag, comment, CDATA section, PI) that has not ended within a long stretch of input,
 * for a scanner that otherwise keeps an unfinished construct and searches it again with every chunk (the result
 * scanner): that search, and the string it grows, would be quadratic in the construct's length. This holds the
 * construct's pieces without joining them, reads each new chunk once to find its end, and on the way counts what
 * the limits bound — the construct's length, and in a start tag the attributes, each name and each value — so a
 * hostile one is refused as it grows. When `feed` finds the end, the caller joins the pieces (once) and scans the
 * construct as usual, which makes the exact checks.
 */
export class LongMarkup {
  private readonly parts: string[];
  private chars: number;
  private readonly kind: Kind;
  private readonly bounds: LongMarkupBounds;
  private readonly fail: (code: SdataErrorCode, message: string) => Error;
  /** The last characters seen, where a terminator may have begun. */
  private carry: string;
  // start and end tags: inside a quoted value (its quote) or not, the length of the current name or value, attributes
  private quote = 0;
  private run = 0;
  private attributes = 0;
  /** No white space seen yet: a name being read is the element's. */
  private inName = true;

  /** `start`: the construct so far, from its '<' (its end is not in it). */
  constructor(start: string, bounds: LongMarkupBounds, fail: (code: SdataErrorCode, message: string) => Error) {
    this.bounds = bounds;
    this.fail = fail;
    this.kind = start.startsWith('</') ? 'end tag' : start.startsWith('<!--') ? 'comment' : start.startsWith('<![CDATA[') ? 'CDATA section'
      : start.startsWith('<?') ? 'processing instruction' : 'start tag';
    this.parts = [];
    this.chars = 0;
    this.carry = '';
    const skip = this.kind === 'start tag' ? 1 : this.kind === 'end tag' ? 2 : 0;
    this.feed(start, skip);
  }

  /** The construct's pieces so far, joined. */
  joined(): string {
    return this.parts.join('');
  }

  /**
   * Takes the next chunk: the index in it just after the construct's end, or -1 when the construct goes on (the
   * chunk is then held). A start tag also "ends" at a '<' outside quotes, which the caller's scan refuses.
   */
  feed(text: string, from = 0): number {
    let end: number;
    if (this.kind === 'start tag' || this.kind === 'end tag') end = this.scanTag(text, from);
    else {
      const term = TERMINATOR[this.kind]!;
      const hay = this.carry + text.slice(from);
      const at = hay.indexOf(term);
      end = at < 0 ? -1 : from + at - this.carry.length + term.length;
      this.carry = hay.slice(-(term.length - 1));
    }
    const taken = end < 0 ? text.length : end;
    this.chars += taken;
    if (this.chars > this.bounds.maxChars) {
      const { maxChars, maxCharsKey } = this.bounds;
      const what = `a ${this.kind}${maxCharsKey === 'maxTextBetweenEntries' ? ' between entries' : ''}`;
      throw this.fail('SDATA_E_LIMIT', maxCharsKey === 'maxEntryBytes'
        ? `${what} longer than an entry may be: exceeds the limit of ${maxChars} bytes (raise it with --max-entry-bytes)`
        : limitMessage(what, maxCharsKey, maxChars, ' characters'));
    }
    if (end < 0) this.parts.push(text);
    else this.parts.push(text.slice(0, end));
    return end;
  }

  /** Through a tag's characters from `from`: its end, or -1; refuses an attribute, a name or a value over its limit. */
  private scanTag(text: string, from: number): number {
    const { maxAttributeBytes, maxNameBytes, maxAttributes } = this.bounds.limits;
    let q = this.quote;
    let run = this.run;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (q !== 0) {
        if (c === q) {
          q = 0;
          run = 0;
        } else if (++run > maxAttributeBytes) {
          throw this.fail('SDATA_E_LIMIT', limitMessage('an attribute value being read', 'maxAttributeBytes', maxAttributeBytes, ' bytes'));
        }
      } else if (c === GT || c === LT) {
        return c === GT ? i + 1 : i;
      } else if (c === DQ || c === SQ) {
        q = c;
        run = 0;
      } else if (c === EQ) {
        run = 0;
        if (++this.attributes > maxAttributes) {
          throw this.fail('SDATA_E_LIMIT', limitMessage(`the number of attributes on one element`, 'maxAttributes', maxAttributes, ''));
        }
      } else if (c === 32 || c === 9 || c === 10 || c === 13) {
        run = 0;
        this.inName = false;
      } else if (++run > maxNameBytes) {
        const which = this.kind === 'end tag' ? 'end tag' : this.inName ? 'element' : 'attribute';
        throw this.fail('SDATA_E_LIMIT', limitMessage(`the ${which} name being read`, 'maxNameBytes', maxNameBytes, ' bytes'));
      }
    }
    this.quote = q;
    this.run = run;
    return -1;
  }
}
