import type { SaxesAttributeNS, SaxesTagNS } from 'saxes';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { DEFAULT_LIMITS, LIMIT_FLAGS, type XmlLimits } from './limits.ts';
import { attributeCount, openElements, pending, setLimitHandlers, type NsParser } from './saxes-adapter.ts';

/** Makes the reader's error at the parser's position (each reader has its own source and code for positions). */
export type LimitFailure = (code: SdataErrorCode, message: string) => Error;

/** How a crossed limit reads: what, the limit's value, and the flag that raises it. */
export function limitMessage(what: string, key: keyof XmlLimits, value: number, unit: string): string {
  return `${what} exceeds the limit of ${value}${unit} (raise it with ${LIMIT_FLAGS[key]})`;
}

/** A name or value for a message: short, whatever it was. */
export function shown(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Whether `s` is over `limit` UTF-8 bytes (callers test first that it may be: more than limit/3 UTF-16 units). */
function over(s: string, limit: number): boolean {
  return s.length > limit || Buffer.byteLength(s) > limit;
}

/**
 * The limits every saxes-based reader shares (xml/limits.ts), enforced while saxes parses:
 * - per element (`opentagstart`: its name is read, its attributes not yet): the depth, the name's length;
 * - per attribute (`attribute`): the count on the element so far, the name's and the value's lengths;
 * - between two writes (`checkPending`, which the reader calls after each bounded slice of input): the strings saxes
 *   is still accumulating — an attribute value or a name that has not ended yet, which nothing else would see before
 *   it had grown to its end — and a DOCTYPE, refused at once rather than read to its end.
 * The handlers are set once per parser (restartParser keeps them) and cost a call and a compare or two: no object.
 */
export class LimitGuard {
  private readonly p: NsParser;
  private readonly fail: LimitFailure;
  private readonly maxDepth: number;
  private readonly maxAttributes: number;
  private readonly maxNameBytes: number;
  private readonly maxAttributeBytes: number;
  /** Lengths in UTF-16 units at or below which a name or value cannot exceed its limit in bytes. */
  private readonly nameUnits: number;
  private readonly valueUnits: number;

  constructor(p: NsParser, limits: XmlLimits, fail: LimitFailure) {
    this.p = p;
    this.fail = fail;
    this.maxDepth = limits.maxDepth;
    this.maxAttributes = limits.maxAttributes;
    this.maxNameBytes = limits.maxNameBytes;
    this.maxAttributeBytes = limits.maxAttributeBytes;
    this.nameUnits = Math.floor(limits.maxNameBytes / 3);
    this.valueUnits = Math.floor(limits.maxAttributeBytes / 3);
    setLimitHandlers(p, this.onTagStart, this.onAttribute);
  }

  private readonly onTagStart = (tag: SaxesTagNS): void => {
    // The new element is not open yet: it would be one more.
    if (openElements(this.p) >= this.maxDepth) {
      throw this.fail('SDATA_E_LIMIT', limitMessage(`element <${shown(tag.name)}> nested ${openElements(this.p) + 1} deep`, 'maxDepth', this.maxDepth, ' levels'));
    }
    if (tag.name.length > this.nameUnits && over(tag.name, this.maxNameBytes)) this.nameTooLong('element', tag.name);
  };

  private readonly onAttribute = (a: SaxesAttributeNS): void => {
    if (attributeCount(this.p) > this.maxAttributes) {
      throw this.fail('SDATA_E_LIMIT', limitMessage('the number of attributes on one element', 'maxAttributes', this.maxAttributes, ''));
    }
    const { name, value } = a;
    if (name.length > this.nameUnits && over(name, this.maxNameBytes)) this.nameTooLong('attribute', name);
    if (value.length > this.valueUnits && over(value, this.maxAttributeBytes)) {
      throw this.fail('SDATA_E_LIMIT', limitMessage(`the value of attribute ${shown(name)}`, 'maxAttributeBytes', this.maxAttributeBytes, ' bytes'));
    }
  };

  private nameTooLong(what: string, name: string): never {
    throw this.fail('SDATA_E_LIMIT', limitMessage(`${what} name ${shown(name)}`, 'maxNameBytes', this.maxNameBytes, ' bytes'));
  }

  /**
   * After a write: an attribute value or name still being read may not have crossed its limit in characters (a
   * character is at least one byte, so more characters than the limit are more bytes too; the exact byte count is
   * taken when the value or name ends). Also refuses a DOCTYPE as soon as one is being read.
   */
  checkPending(): void {
    const s = pending(this.p);
    if (s.doctype) throw this.fail('SDATA_E_DOCTYPE', 'DOCTYPE declarations are refused: entities are never expanded');
    if (s.name > this.maxNameBytes) {
      throw this.fail('SDATA_E_LIMIT', limitMessage(`the ${s.nameOf === 'name' ? '' : `${s.nameOf} `}name being read`, 'maxNameBytes', this.maxNameBytes, ' bytes'));
    }
    if (s.attributeValue && s.text > this.maxAttributeBytes) {
      throw this.fail('SDATA_E_LIMIT', limitMessage('an attribute value being read', 'maxAttributeBytes', this.maxAttributeBytes, ' bytes'));
    }
  }
}

/**
 * A document read whole (digest, tracking, diagnoses, schema): over `maxBytes` it is refused before it is parsed
 * (SDATA_E_TOO_LARGE); its parser keeps the default limits, errors at its position in `source` (`at`: where the
 * reader says it is, when that is not the parser's own position).
 */
export function guardDocument(p: NsParser, text: string, source: string, what: string, maxBytes: number, at: { line: number; column: number } = p): void {
  if (text.length > maxBytes / 3 && Buffer.byteLength(text) > maxBytes) {
    throw new SdataError('SDATA_E_TOO_LARGE', `${source}: ${what} is larger than ${maxBytes} bytes, more than such a document ever needs`, { source });
  }
  new LimitGuard(p, DEFAULT_LIMITS, (code, m) => new SdataError(code, `${source}:${at.line}:${at.column}: ${m}`, { source, line: at.line, column: at.column }));
}
