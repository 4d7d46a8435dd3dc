import type { SaxesTagNS } from 'saxes';
import { escapeAttr } from '../protocol/escape.ts';
import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import type { EntryRecord } from './feed-types.ts';
import { createParser, drive, type NsParser } from './saxes-adapter.ts';

/**
 * A few fields of one entry of a plain SData collection feed (core 3.8, 3.9), for `link`: the entry's id and self
 * link, the `sdata:uuid`, `sdata:url` and `sdata:key` of its resource element (the uuid also from `sdata:payload`,
 * A19), and the text of some properties, named by paths of local names below the resource element
 * (`name`, `address/postCode`). Properties are matched by local name in any namespace: a contract's elements share
 * one. Each entry's exact text (FeedReader) is parsed again, alone, with the declarations in force around it.
 */

export interface EntryFields {
  atomId: string | undefined;
  /** href of the entry's `link rel="self"` (or `rel="edit"`). */
  self: string | undefined;
  uuid: string | undefined;
  url: string | undefined;
  key: string | undefined;
  /** The resource element's local name and namespace. */
  element: { local: string; uri: string } | undefined;
  /** Per path, in order: the element's text, or undefined when it is absent or `xsi:nil="true"`. */
  values: Array<string | undefined>;
}

const WRAP = 'sdataSyncFieldsWrap';

export class EntryFieldReader {
  private readonly paths: readonly string[];
  private readonly parser: NsParser;
  private out!: EntryFields;
  private depth = 0;
  private inPayload = false;
  private payloadUuid: string | undefined;
  private rootDepth = -1;
  /** Local names from the resource element down to the current element, joined by '/'. */
  private path: string[] = [];
  private capture = -1;
  private captureDepth = -1;
  private idDepth = -1;
  private text = '';

  /** `paths`: property paths, `/`-separated local names below the resource element. */
  constructor(paths: readonly string[]) {
    this.paths = paths.map((p) => p.split('/').map((s) => s.trim()).filter((s) => s !== '').join('/'));
    const p = createParser('entry');
    this.parser = p;
    p.on('opentag', (t) => this.open(t));
    p.on('closetag', () => this.close());
    p.on('text', (t) => this.onText(t));
    p.on('cdata', (t) => this.onText(t));
  }

  read(rec: EntryRecord, source: string): EntryFields {
    if (rec.text === undefined) throw new SdataError('SDATA_E_INVALID_ENTRY', `${source}:${rec.line}:${rec.column}: entry #${rec.index + 1}: ${rec.invalid ?? 'too large'}`);
    this.out = { atomId: undefined, self: undefined, uuid: undefined, url: undefined, key: undefined, element: undefined, values: this.paths.map(() => undefined) };
    this.depth = 0;
    this.inPayload = false;
    this.payloadUuid = undefined;
    this.rootDepth = -1;
    this.path = [];
    this.capture = -1;
    this.idDepth = -1;
    let decls = '';
    const seen = new Set<string>();
    for (let i = rec.scopes.length - 1; i >= 0; i--) {
      const sc = rec.scopes[i]!;
      for (const prefix of Object.keys(sc)) {
        if (seen.has(prefix) || prefix === 'xml' || prefix === WRAP) continue;
        seen.add(prefix);
        decls += prefix === '' ? ` xmlns="${escapeAttr(sc[prefix]!)}"` : ` xmlns:${prefix}="${escapeAttr(sc[prefix]!)}"`;
      }
    }
    const malformed = (message: string, cause: Error): Error =>
      new SdataError('SDATA_E_MALFORMED', `${source}:${rec.line}:${rec.column}: entry #${rec.index + 1}: ${message}`, { source, cause });
    drive(this.parser, `<${WRAP}${decls}>${rec.text}</${WRAP}>`, 'entry', malformed);
    drive(this.parser, null, 'entry', malformed);
    this.out.uuid ??= this.payloadUuid;
    return this.out;
  }

  private open(t: SaxesTagNS): void {
    const d = ++this.depth;
    if (d === 3) {
      if (t.uri === NS.atom && t.local === 'id') {
        this.idDepth = d;
        this.text = '';
      } else if (t.uri === NS.atom && t.local === 'link') {
        const rel = t.attributes['rel']?.value.trim();
        if ((rel === 'self' || (rel === 'edit' && this.out.self === undefined)) && t.attributes['href']) this.out.self = t.attributes['href'].value.trim();
      } else if (t.uri === NS.sdata && t.local === 'payload') {
        this.inPayload = true;
        this.payloadUuid = sdataAttr(t, 'uuid');
      }
      return;
    }
    if (!this.inPayload || d < 4) return;
    if (this.rootDepth < 0) {
      this.rootDepth = d;
      this.out.uuid = sdataAttr(t, 'uuid');
      this.out.url = sdataAttr(t, 'url');
      this.out.key = sdataAttr(t, 'key');
      this.out.element = { local: t.local, uri: t.uri };
      return;
    }
    this.path.push(t.local);
    if (this.capture >= 0) return;
    const i = this.paths.indexOf(this.path.join('/'));
    if (i < 0 || this.out.values[i] !== undefined) return;
    const nil = Object.values(t.attributes).some((a) => a.uri === NS.xsi && a.local === 'nil' && a.value.trim() === 'true');
    if (nil) return;
    this.capture = i;
    this.captureDepth = d;
    this.text = '';
  }

  private close(): void {
    const d = this.depth--;
    if (d === this.idDepth) {
      this.out.atomId = this.text.trim();
      this.idDepth = -1;
    } else if (d === this.captureDepth && this.capture >= 0) {
      this.out.values[this.capture] = this.text;
      this.capture = -1;
      this.captureDepth = -1;
    }
    if (this.rootDepth >= 0 && d > this.rootDepth) this.path.pop();
    else if (d === this.rootDepth) this.rootDepth = Number.POSITIVE_INFINITY; // one resource element per payload
    if (d === 3) this.inPayload = false;
  }

  private onText(t: string): void {
    if (this.capture >= 0 || this.idDepth >= 0) this.text += t;
  }
}

function sdataAttr(t: SaxesTagNS, local: string): string | undefined {
  for (const k in t.attributes) {
    const a = t.attributes[k]!;
    if (a.local === local && a.uri === NS.sdata) return a.value.trim();
  }
  return undefined;
}
