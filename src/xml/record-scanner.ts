import { NS } from '../protocol/namespaces.ts';
import type { SyncState } from '../protocol/sync-state.ts';
import { NO_DECLS, utf16Units } from './entry-record.ts';
import type { EntryRecord, ResumePoint } from './feed-types.ts';
import { decodeEntities } from './entities.ts';
import type { XmlLimits } from './limits.ts';
import { L_COMPLETE, L_DELETED, L_FLAG, L_UUID, ListWatch } from './list-watch.ts';
import { PieceScanner, type Refusal } from './piece-scanner.ts';
import { isBlank } from './scan-chars.ts';

const NON_ASCII = /[\x80-\xff]/;
// Captures of this scanner (PieceScanner keeps 1 and 2 for the endpoint and the tick).
const CAP_ID = 3;
const CAP_METHOD = 4;
const CAP_STAMP = 5;
const CAP_USER = 6;

/** What an entry's fields are, beyond what PieceScanner keeps, while it is read. */
interface Fields {
  tagEnd: number;
  atomId: string | undefined;
  method: string | undefined;
  stamp: string;
  sawStamp: boolean;
  user: string | undefined;
  isDeleted: boolean;
  entryDecls: Record<string, string> | undefined;
  payloadDecls: Record<string, string> | undefined;
  resStart: number;
  resNameEnd: number;
  resEnd: number;
  resOwn: readonly string[];
  resLocal: string | undefined;
  resUri: string | undefined;
  /** Whether the resource's child lists need the merge (with the scanner's listWork; undefined until it ends). */
  listWork: boolean | undefined;
}

/**
 * PieceScanner for a reader that needs whole EntryRecords rather than a decision (the target provider applying a
 * posted page: provider/sync/target-applier.ts): besides what plan's scanner checks and keeps, each entry's atom:id,
 * `http:httpMethod`, the syncState's stamp and user, the resource element's span, name, namespace, own declarations
 * and `isDeleted`, the declarations of the entry and the payload, and the entry's exact text: the record the saxes
 * FeedReader makes of the same entry (test/xml/scanned-feed-reader.test.ts compares them), but for `http:ifMatch`, which
 * no target reads. It refuses what PieceScanner refuses, a field given twice, and references in the attributes it
 * reads; the caller then reads the piece with the FeedReader (xml/scanned-feed-reader.ts).
 */
export class RecordScanner extends PieceScanner {
  /** The records of the last piece scanned without refusal, in order, `index` counted from `firstIndex`. */
  readonly records: EntryRecord[] = [];
  /**
   * With `resourceBytes` (constructor): the resource element's bytes of each record (a view of the piece, valid until
   * the next scan), or undefined; otherwise empty.
   */
  readonly resourceBytes: Array<Uint8Array | undefined> = [];
  private f: Fields = newFields();
  private readonly done: Fields[] = [];
  private bindings: Readonly<Record<string, string>> = {};

  private readonly textBytes: boolean;

  /** Whether to keep resourceBytes: a view per record costs an object that only the target uses. */
  private readonly keepBytes: boolean;

  /** With `listWork` (constructor): what each resource says for the child-list rule, as it is read. */
  private readonly watch: ListWatch | undefined;

  /**
   * `textBytes`: records carry their text as UTF-8 bytes (EntryRecord.textBytes), never decoded. `resourceBytes`:
   * each record's resource bytes are kept in `resourceBytes` (else it stays empty). `listWork`: records say whether
   * their child lists need the merge (EntryRecord.listWork).
   */
  constructor(limits: XmlLimits, maxEntryBytes: number, textBytes = false, resourceBytes = false, listWork = false) {
    super(limits, maxEntryBytes);
    this.textBytes = textBytes;
    this.keepBytes = resourceBytes;
    this.watch = listWork ? new ListWatch() : undefined;
    this.wantsCharData = listWork;
  }

  /** Lets go of the last piece (PieceScanner.release) and of its records, which the handler has by now. */
  override release(): void {
    super.release();
    this.records.length = 0;
    this.resourceBytes.length = 0;
    this.done.length = 0;
    this.f = newFields();
  }

  /**
   * Scans a piece (PieceScanner.scan) and, when it was read whole, makes its records: positions counted on from
   * `at` (the document's line and column where the piece begins), indexes from `firstIndex`. `at` is moved to the
   * piece's end.
   */
  scanRecords(bytes: Uint8Array, resume: ResumePoint, at: { line: number; column: number }, firstIndex: number): Refusal | undefined {
    this.records.length = 0;
    this.resourceBytes.length = 0;
    this.done.length = 0;
    this.bindings = resume.bindings;
    const why = this.scan(bytes, resume);
    if (why !== undefined) return why;
    const s = this.s;
    const buf = this.buf;
    const o = this.out;
    const ends: LineEnds = { lf: s.indexOf('\n'), cr: s.indexOf('\r') };
    let from = 0;
    for (let k = 0; k < o.count; k++) {
      const f = this.done[k]!;
      advance(s, from, f.tagEnd, at, ends);
      from = f.tagEnd;
      const start = o.start[k]!;
      const end = o.end[k]!;
      let text = s.slice(start, end);
      // Offsets in the record are in UTF-16 units of its text, as the FeedReader's are: the same as bytes up to the
      // first non-ASCII byte; after it, counted from there or back from the entry's end, whichever is nearer (the
      // resource's end is a few ASCII bytes from the entry's).
      const ascii = this.textBytes ? -1 : text.search(NON_ASCII);
      let unit = (b: number): number => b - start;
      if (ascii >= 0) {
        text = buf.toString('utf8', start, end);
        const first = start + ascii;
        const units = text.length;
        unit = (b: number): number => b <= first ? b - start : end - b < b - first ? units - utf16Units(s, b, end) : ascii + utf16Units(s, first, b);
      }
      const state: SyncState = { endpoint: o.endpoint[k]!, tick: o.tick[k]!, stamp: f.stamp };
      if (f.user !== undefined) state.user = f.user;
      // The piece is valid UTF-8 (PieceScanner.scan), so these bytes are exactly the resource's text, encoded.
      if (this.keepBytes) this.resourceBytes.push(f.resStart < 0 || f.resEnd < 0 ? undefined : buf.subarray(f.resStart, f.resEnd));
      const own = o.own[k]!;
      const scopes: Array<Readonly<Record<string, string>>> = [this.bindings];
      if (f.entryDecls !== undefined) scopes.push(f.entryDecls);
      if (f.payloadDecls !== undefined) scopes.push(f.payloadDecls);
      const rec: EntryRecord = {
        index: firstIndex + k,
        line: at.line,
        column: at.column,
        atomId: f.atomId,
        uuid: this.uuids[k],
        isDeleted: f.isDeleted,
        state,
        httpMethod: f.method,
        ifMatch: undefined,
        text,
        nameEnd: o.nameEnd[k]!,
        ownDecls: own,
        resourceStart: f.resStart < 0 ? -1 : unit(f.resStart),
        resourceNameEnd: f.resStart < 0 ? -1 : unit(f.resNameEnd),
        resourceEnd: f.resStart < 0 || f.resEnd < 0 ? -1 : unit(f.resEnd),
        scopes,
        resourceOwnDecls: f.resOwn,
        resourceLocal: f.resLocal,
        resourceUri: f.resUri,
        invalid: undefined,
      };
      // Only when asked: records otherwise equal the FeedReader's, field for field (the tests compare them).
      if (this.textBytes) rec.textBytes = true;
      if (this.watch !== undefined) rec.listWork = f.listWork;
      this.records.push(rec);
    }
    advance(s, from, s.length, at, ends);
    return undefined;
  }

  /** Positions are counted in scanRecords, in the document's coordinates. */
  protected override endOfPiece(): void {}

  private readonly uuids: string[] = [];

  protected override begun(): void {
    if (this.watch !== undefined) this.watch.active = false;
    const f = (this.f = newFields());
    f.tagEnd = this.tagEnd;
    if (this.own !== NO_DECLS) f.entryDecls = this.declsOf(this.own);
  }

  protected override element(s: string, lt: number, d: number): Refusal | undefined {
    const f = this.f;
    const resource = d === 3 && !this.inState && this.inPayload && !this.sawResource;
    const why = super.element(s, lt, d);
    if (why !== undefined) return why;
    const watch = this.watch;
    if (watch !== undefined) {
      // The stored fragment's root carries the entry's uuid (fragment.ts inserts it where the resource lacks it).
      if (resource) watch.start(3, this.listBits(s) | (this.uuid !== undefined ? L_UUID : 0));
      else if (watch.active) watch.open(d, this.attrs === 0 ? 0 : this.listBits(s));
    }
    const from = lt + 1;
    if (d === 2) {
      if (this.inPayload) {
        const own = this.declared(s, 2);
        if (own !== NO_DECLS) f.payloadDecls = this.declsOf(own);
        return undefined;
      }
      const which = this.localIs(s, from, 'id') ? CAP_ID : this.localIs(s, from, 'httpMethod') ? CAP_METHOD : 0;
      if (which === 0 || this.uriOf(s, from) !== (which === CAP_ID ? NS.atom : NS.http)) return undefined;
      if ((which === CAP_ID ? f.atomId : f.method) !== undefined) return 'entry field twice';
      return this.open(which, 2);
    }
    if (d === 3 && this.inState && this.cap === 0) {
      const which = this.localIs(s, from, 'stamp') ? CAP_STAMP : this.localIs(s, from, 'user') ? CAP_USER : 0;
      if (which === 0 || this.uriOf(s, from) !== NS.sync) return undefined;
      if (which === CAP_USER ? f.user !== undefined : f.sawStamp) return 'syncState field twice';
      return this.open(which, 3);
    }
    if (resource) {
      f.resStart = lt;
      f.resNameEnd = this.nameEnd;
      const colon = this.colon;
      f.resLocal = s.slice(colon < 0 ? from : colon + 1, this.nameEnd);
      f.resUri = this.uriOf(s, from);
      f.resOwn = this.declared(s, 3);
      if (this.selfClose) f.resEnd = this.tagEnd;
      return this.deletedAttribute(s);
    }
    return undefined;
  }

  /** A capture of a field; one already open (its element nested in another's) is left to saxes. */
  private open(which: number, depth: number): Refusal | undefined {
    if (this.cap !== 0) return 'field inside a field';
    if (this.selfClose) {
      this.captured(which, '');
      return undefined;
    }
    this.cap = which;
    this.capFrom = this.tagEnd;
    this.capDepth = depth;
    return undefined;
  }

  protected override captured(cap: number, t: string): void {
    const f = this.f;
    if (cap === CAP_ID) f.atomId = t.trim();
    else if (cap === CAP_METHOD) f.method = t.trim().toUpperCase();
    else if (cap === CAP_STAMP) {
      f.stamp = t.trim();
      f.sawStamp = true;
    }
    else if (cap === CAP_USER) f.user = t.trim();
  }

  protected override ended(d: number, end: number): void {
    const f = this.f;
    if (d === 3 && f.resStart >= 0 && f.resEnd < 0 && !this.inState && this.inPayload) f.resEnd = end;
    const watch = this.watch;
    if (watch !== undefined && watch.active) {
      watch.close(d);
      if (!watch.active) f.listWork = watch.work;
    }
  }

  protected override charData(d: number, s: string, from: number, to: number): void {
    const watch = this.watch;
    if (watch !== undefined && watch.active && d >= 3 && !isBlank(s, from, to)) watch.text(d);
  }

  /**
   * The L_* bits of the start tag just read: sdata:uuid; sdata:deleteMissing, and whether it is true; sdata:isDeleted
   * or sync:isDeleted true. Values are read as list-scan.ts reads them (references resolved, trimmed as characters).
   */
  private listBits(s: string): number {
    let bits = 0;
    for (let k = 0; k < this.attrs; k++) {
      const c = this.aColon[k]!;
      if (c < 0) continue;
      const ll = this.aEnd[k]! - c - 1;
      const which = ll === 4 && s.startsWith('uuid', c + 1) ? L_UUID : ll === 13 && s.startsWith('deleteMissing', c + 1) ? L_FLAG
        : ll === 9 && s.startsWith('isDeleted', c + 1) ? L_DELETED : 0;
      if (which === 0) continue;
      const uri = this.ns.get(s.slice(this.aStart[k], c));
      if (uri !== NS.sdata && (which !== L_DELETED || uri !== NS.sync)) continue;
      if (which === L_UUID) {
        bits |= L_UUID;
        continue;
      }
      let v = this.real(this.vStart[k]!, this.vEnd[k]!);
      if (v.includes('&')) v = decodeEntities(v, (at, problem) => new Error(`attribute value, character ${at}: ${problem}`));
      v = v.trim();
      const yes = v === 'true' || v === '1';
      if (which === L_FLAG) bits |= L_FLAG | (yes ? L_COMPLETE : 0);
      else if (yes) bits |= L_DELETED;
    }
    return bits;
  }

  protected override closeEntry(lt: number, end: number): Refusal | undefined {
    const why = super.closeEntry(lt, end);
    if (why !== undefined) return why;
    this.done.push(this.f);
    this.uuids[this.out.count - 1] = this.uuid!;
    return undefined;
  }

  /** sdata:isDeleted or sync:isDeleted on the resource element (the last one written wins, as in the FeedReader). */
  private deletedAttribute(s: string): Refusal | undefined {
    for (let k = 0; k < this.attrs; k++) {
      const c = this.aColon[k]!;
      if (c < 0 || !this.localIs(s, this.aStart[k]!, 'isDeleted', c, this.aEnd[k])) continue;
      const uri = this.ns.get(s.slice(this.aStart[k], c));
      if (uri !== NS.sdata && uri !== NS.sync) continue;
      const v = this.real(this.vStart[k]!, this.vEnd[k]!);
      if (v.includes('&')) return 'reference in isDeleted';
      const t = v.trim();
      this.f.isDeleted = t === 'true' || t === '1';
    }
    return undefined;
  }

  /** The bindings of the prefixes an element just read declares, as in force after its start tag. */
  private declsOf(own: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of own) out[p] = p === '' ? this.dflt : this.ns.get(p)!;
    return out;
  }
}

function newFields(): Fields {
  return {
    tagEnd: 0, atomId: undefined, method: undefined, stamp: '', sawStamp: false, user: undefined, isDeleted: false,
    entryDecls: undefined, payloadDecls: undefined, resStart: -1, resNameEnd: -1, resEnd: -1, resOwn: NO_DECLS,
    resLocal: undefined, resUri: undefined, listWork: undefined,
  };
}

/** The next LF and CR at or after where `advance` stands in a piece (-1: none left), so each is searched for once. */
interface LineEnds {
  lf: number;
  cr: number;
}

/**
 * Moves `at` (a line and column as saxes counts them: code points; CR LF and a lone CR end a line) over the bytes
 * [from, to) of the Latin-1 view `s`, `ends` standing at or after `from`.
 */
function advance(s: string, from: number, to: number, at: { line: number; column: number }, ends: LineEnds): void {
  let last = -1;
  let lines = 0;
  let i = ends.lf;
  for (; i >= 0 && i < to; i = s.indexOf('\n', i + 1)) {
    lines++;
    last = i;
  }
  ends.lf = i;
  for (i = ends.cr; i >= 0 && i < to; i = s.indexOf('\r', i + 1)) {
    if (s.charCodeAt(i + 1) !== 10) {
      lines++;
      if (i > last) last = i;
    }
  }
  ends.cr = i;
  let col = 0;
  for (let j = last < 0 ? from : last + 1; j < to; j++) if ((s.charCodeAt(j) & 0xc0) !== 0x80) col++;
  if (last < 0) {
    at.column += col;
  } else {
    at.line += lines;
    at.column = col;
  }
}
