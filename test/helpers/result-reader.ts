import type { SaxesTagNS } from 'saxes';
import type { Diagnosis } from '../../src/protocol/diagnosis.ts';
import { SdataError, type SdataErrorCode } from '../../src/protocol/errors.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { Utf8Stream } from '../../src/xml/encoding.ts';
import type { ResultEntry, ResultScannerOptions, ResultTail } from '../../src/xml/result-types.ts';
import { createParser, drive, setTextHandler, type NsParser } from '../../src/xml/saxes-adapter.ts';
import { toDiagnosis } from '../../src/xml/tracking-reader.ts';

// The test oracle of ResultScanner (src/xml/result-scanner.ts): the same reading of a `$syncTarget` result feed,
// done by a real XML parser (saxes, through the adapter). Production reads results with the scanner only.

const SDATA_URIS: ReadonlySet<string> = new Set([NS.sdata, NS.sdataLegacy]);
const DIAG_FIELDS: ReadonlySet<string> = new Set(['severity', 'sdataCode', 'applicationCode', 'message', 'payloadPath']);

const F = { None: 0, Status: 1, Message: 2, Method: 3, Location: 4, Id: 5, Diag: 6 } as const;
type F = (typeof F)[keyof typeof F];

/**
 * Streaming reader of a `$syncTarget` result feed: push bytes as they arrive, get one ResultEntry per entry and the
 * tail (`next` link). Nothing but the current entry's few fields is held, so a result page of any size (payloads
 * echoed or not) costs constant memory. The document must be an Atom feed; everything else in it is skipped.
 */
export class ResultReader {
  private readonly parser: NsParser;
  private readonly input = new Utf8Stream((m, cause) => this.fail('SDATA_E_ENCODING', `result feed: ${m}`, cause));
  private readonly onEntry: (e: ResultEntry) => void;
  private readonly source: string;
  private depth = 0;
  private sawRoot = false;
  private count = 0;
  private cur: ResultEntry | undefined;
  private inPayload = false;
  private diag: Partial<Record<string, string>> | undefined;
  private diagDepth = -1;
  private field: F = F.None;
  private fieldName = '';
  private text = '';
  private next: string | undefined;
  private readonly feedDiagnoses: Diagnosis[] = [];

  constructor(onEntry: (e: ResultEntry) => void, opts: ResultScannerOptions = {}) {
    this.onEntry = onEntry;
    this.source = opts.source ?? '<result feed>';
    const p = createParser(this.source);
    this.parser = p;
    // No 'error' handler, as in FeedReader: with one, V8 stops inlining saxes' scanning paths (~3x slower).
    // saxes then throws from write()/close(), and parse() turns its errors into SdataErrors.
    p.on('doctype', () => {
      throw this.fail('SDATA_E_DOCTYPE', 'DOCTYPE declarations are refused: entities are never expanded');
    });
    p.on('opentag', (t) => this.onOpen(t));
    p.on('closetag', (t) => this.onClose(t));
  }

  /** Bytes pushed so far. */
  get bytes(): number {
    return this.input.bytes;
  }

  push(bytes: Uint8Array): void {
    const text = this.input.decode(bytes);
    if (text) this.parse(text);
  }

  private parse(text: string | null): void {
    drive(this.parser, text, this.source, this.malformed);
  }

  private readonly malformed = (message: string, cause: Error): Error =>
    this.fail('SDATA_E_MALFORMED', `result feed is not well-formed XML: ${message}`, cause);

  end(): ResultTail {
    const rest = this.input.end();
    if (rest) this.parse(rest);
    if (!this.sawRoot) throw this.fail('SDATA_E_PROTOCOL', 'empty result feed: no root element');
    this.parse(null);
    return { next: this.next, entries: this.count, diagnoses: this.feedDiagnoses };
  }

  private fail(code: SdataErrorCode, message: string, cause?: unknown): SdataError {
    const { line, column } = this.parser;
    return new SdataError(code, `${this.source}:${line}:${column}: ${message}`, { source: this.source, line, column, cause });
  }

  private readonly onText = (t: string): void => {
    this.text += t;
  };

  private capture(f: F, name = ''): void {
    this.field = f;
    this.fieldName = name;
    this.text = '';
    // Text is wanted inside a few small elements only; saxes skips its text bookkeeping while no handler is set.
    setTextHandler(this.parser, this.onText);
  }

  private onOpen(tag: SaxesTagNS): void {
    const d = ++this.depth;
    const { uri, local } = tag;
    if (d === 1) {
      this.sawRoot = true;
      if (local !== 'feed' || uri !== NS.atom) {
        throw this.fail('SDATA_E_PROTOCOL', `not a result feed: root element is <${tag.name}>, expected atom:feed`);
      }
      return;
    }
    if (this.diag) {
      if (d === this.diagDepth + 1 && SDATA_URIS.has(uri) && DIAG_FIELDS.has(local)) this.capture(F.Diag, local);
      return;
    }
    if (SDATA_URIS.has(uri) && local === 'diagnosis' && !this.inPayload) {
      this.diag = {};
      this.diagDepth = d;
      return;
    }
    const cur = this.cur;
    if (d === 2) {
      if (uri !== NS.atom) return;
      if (local === 'entry') {
        this.cur = { index: this.count++, atomId: undefined, uuid: undefined, status: undefined, message: undefined, method: undefined, location: undefined, diagnoses: [] };
      } else if (local === 'link') {
        const rel = tag.attributes['rel']?.value.trim();
        const href = tag.attributes['href']?.value;
        if (rel === 'next' && href !== undefined) this.next = href.replace(/\s+/g, '');
      }
      return;
    }
    if (!cur) return;
    if (d === 3) {
      if (uri === NS.http) {
        if (local === 'httpStatus') this.capture(F.Status);
        else if (local === 'httpMessage') this.capture(F.Message);
        else if (local === 'httpMethod') this.capture(F.Method);
        else if (local === 'location') this.capture(F.Location);
      } else if (uri === NS.atom && local === 'id') {
        this.capture(F.Id);
      } else if (SDATA_URIS.has(uri) && local === 'payload') {
        this.inPayload = true;
      }
    } else if (d === 4 && this.inPayload && cur.uuid === undefined) {
      const attrs = tag.attributes;
      for (const k in attrs) {
        const a = attrs[k]!;
        if (a.local === 'uuid' && a.uri === NS.sdata) cur.uuid = a.value.trim();
      }
    }
  }

  private onClose(tag: SaxesTagNS): void {
    const d = this.depth--;
    if (this.field !== F.None && (this.field === F.Diag ? tag.local === this.fieldName && d === this.diagDepth + 1 : d === 3)) {
      this.endField();
    }
    if (this.diag) {
      if (d === this.diagDepth) {
        const dg = toDiagnosis(this.diag);
        this.diag = undefined;
        this.diagDepth = -1;
        if (this.cur) this.cur.diagnoses.push(dg);
        else this.feedDiagnoses.push(dg);
      }
      return;
    }
    if (d === 3) this.inPayload = false;
    else if (d === 2 && this.cur && tag.local === 'entry') {
      const e = this.cur;
      this.cur = undefined;
      this.onEntry(e);
    }
  }

  private endField(): void {
    const t = this.text.trim();
    const cur = this.cur;
    switch (this.field) {
      case F.Status: {
        const n = Number(t);
        if (cur && Number.isInteger(n)) cur.status = n;
        break;
      }
      case F.Message: if (cur) cur.message = t; break;
      case F.Method: if (cur) cur.method = t.toUpperCase(); break;
      case F.Location: if (cur) cur.location = t; break;
      case F.Id: if (cur) cur.atomId = t; break;
      case F.Diag: if (this.diag) this.diag[this.fieldName] = t; break;
      default: break;
    }
    this.field = F.None;
    this.text = '';
    setTextHandler(this.parser, undefined);
  }
}
