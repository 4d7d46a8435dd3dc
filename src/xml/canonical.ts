import { createHash, hash } from 'node:crypto';
import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { intern, toChars } from './canonical-text.ts';
import { CanonicalWriter } from './canonical-writer.ts';
import type { EntryRecord } from './feed-types.ts';
import { isSpace } from './scan-chars.ts';

/**
 * The canonical form of a resource payload (docs/protocol.md X23): what `verify` compares between two applications,
 * so that two payloads that mean the same have the same SHA-256, however each application writes them.
 *
 * Normalised away: namespace prefixes and where they are declared (names are compared expanded), attribute order,
 * references and CDATA (the decoded text counts), comments and processing instructions, line ends, attribute-value
 * white space as XML normalises it, white space between the elements of element-only content, the order of a child
 * list's children (the rule of docs/protocol.md §3.3: sorted by uuid), the children a list flags deleted and the
 * list's `sdata:deleteMissing` flag, the local identifiers `sdata:key`, `sdata:url`, `sdata:lookup` and
 * `sdata:descriptor`, the case of uuids, `isDeleted` and `xsi:nil` written `1` or `false`. Kept: every element and its
 * place, every other attribute, the text of leaves and of mixed content as written (decoded).
 *
 * Serialised like Canonical XML (escaping, attribute order, start and end tags for empty elements) with names made
 * independent of the sender's prefixes and of sibling order: an element is written unprefixed, declaring the default
 * namespace where it differs from its parent's; its namespaced attributes take prefixes `a0`, `a1`, … in the order of
 * their namespace URIs, declared on the element itself (`xml:` stays `xml:`). A subtree's text thus depends only on
 * its ancestors, so a list's children can be sorted as written. SHA-256 of the UTF-8 is the payload digest.
 *
 * The payload is read from its exact source text, which a saxes-based reader has already found well-formed
 * (FeedReader): this is a scanner, not a second parser. It writes as it reads, holding one payload's output. What is
 * already canonical as written (an unprefixed start tag without attributes in its parent's namespace, `</name>`, text
 * with nothing to escape) is not copied piece by piece: the output takes the source text between two rewrites as one
 * slice (docs/decisions/0026-verify-cpu.md: 11.8 → µs per seeded payload).
 */

/** A resource element inside a larger text (an entry's), with the namespace bindings in force above it. */
export interface PayloadText {
  text: string;
  /** Offsets of the resource element's `<` and just after its end. */
  start: number;
  end: number;
  /** Bindings in force above it, outermost first (EntryRecord.scopes). */
  scopes: ReadonlyArray<Readonly<Record<string, string>>>;
  /** `text` holds UTF-8 bytes, one per character (EntryRecord.textBytes); the scopes hold characters all the same. */
  bytes?: boolean | undefined;
}

/** An entry's resource element (undefined: none, or the entry was over the size cap). */
export function payloadOf(rec: EntryRecord): PayloadText | undefined {
  if (rec.text === undefined || rec.resourceStart < 0 || rec.resourceEnd < 0) return undefined;
  return { text: rec.text, start: rec.resourceStart, end: rec.resourceEnd, scopes: rec.scopes, bytes: rec.textBytes === true };
}

/** A standalone resource element (tests, files). */
export const fragmentPayload = (xml: string): PayloadText => ({ text: xml, start: xml.indexOf('<'), end: xml.lastIndexOf('>') + 1, scopes: [] });

/** The canonical XML of a payload (its characters, whatever `p.bytes`). */
export function canonicalXml(p: PayloadText): string {
  const c = reader.run(p).join('');
  return p.bytes === true ? toChars(c) : c;
}

/**
 * SHA-256 of the canonical XML's UTF-8 bytes, in base64 (44 characters). A string rather than a Buffer: a Buffer per
 * payload is an ArrayBuffer to allocate and collect, which doubled the cost of the hash (docs/decisions/0026).
 */
export function payloadDigest(p: PayloadText): string {
  const pieces = reader.run(p);
  const bytes = p.bytes === true;
  if (pieces.length <= MANY_PIECES) return digestOf(pieces.join(''), bytes);
  // A large payload is hashed piece by piece: joined, its canonical form would be one more copy of it in the heap.
  const h = createHash('sha256');
  for (const s of pieces) h.update(s, bytes ? 'latin1' : 'utf8');
  return h.digest('base64');
}

/** Pieces of output above which a payload is hashed without joining them (a payload of ~1 KB has a few dozen). */
const MANY_PIECES = 4096;

/** SHA-256 in base64 of a canonical form as the writer made it (`bytes`: as UTF-8 bytes, hashed as they are). */
function digestOf(canonical: string, bytes: boolean): string {
  if (!bytes) return hash('sha256', canonical, 'base64');
  // Bytes go through a scratch buffer: a Hash object per payload cost half as much again (docs/decisions/0026).
  if (canonical.length > scratch.length) return createHash('sha256').update(canonical, 'latin1').digest('base64');
  return hash('sha256', scratch.subarray(0, scratch.write(canonical, 0, 'latin1')), 'base64');
}

const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The writer's reader for a payload's own text (a FeedReader's record, a fragment): finds each tag, its name and
 * attributes, keeps the declarations made inside the payload for prefix look-ups, and hands the writer what it
 * found.
 */
class PayloadReader {
  private readonly w = new CanonicalWriter();
  private f = '';
  private scopes: ReadonlyArray<Readonly<Record<string, string>>> = [];
  // Declarations made inside the payload, innermost last, with the depth of the element that made each.
  private readonly declPrefix: string[] = [];
  private readonly declUri: string[] = [];
  private readonly declDepth: number[] = [];
  private nDecl = 0;
  // The start tag being read: its attributes as offsets (declarations apart). Reused tag after tag.
  private nRaw = 0;
  private readonly rawFrom: number[] = [];
  private readonly rawTo: number[] = [];
  private readonly valFrom: number[] = [];
  private readonly valTo: number[] = [];
  private i = 0;
  private selfClosing = false;

  run(p: PayloadText): readonly string[] {
    const f = p.text;
    const w = this.w;
    this.f = f;
    this.scopes = p.scopes;
    this.nDecl = 0;
    const end = p.end;
    let i = p.start;
    if (f.charCodeAt(i) !== 60) throw new Error('canonical: the payload does not start with an element');
    w.begin(f, i, p.bytes === true);
    let depth = 0;
    while (i < end) {
      const lt = f.indexOf('<', i);
      if (lt < 0 || lt >= end) break;
      const c = f.charCodeAt(lt + 1);
      if (c === 33 /* ! */) {
        // A comment or CDATA: part of the text run, which the writer reads as a whole.
        i = f.startsWith('<![CDATA[', lt) ? f.indexOf(']]>', lt + 9) + 3 : f.indexOf('-->', lt + 4) + 3;
        continue;
      }
      if (c === 63 /* ? */) {
        i = f.indexOf('?>', lt + 2) + 2;
        continue;
      }
      if (c === 47 /* / */) {
        i = f.indexOf('>', lt + 2) + 1;
        depth--;
        while (this.nDecl > 0 && this.declDepth[this.nDecl - 1] === depth) this.nDecl--;
        w.close(depth, lt, i);
        if (depth === 0) return w.finish(i);
      } else {
        this.open(lt, depth);
        i = this.i;
        if (this.selfClosing) {
          while (this.nDecl > 0 && this.declDepth[this.nDecl - 1] === depth) this.nDecl--;
          w.close(depth, -1, i);
          if (depth === 0) return w.finish(i);
        } else {
          depth++;
        }
      }
    }
    throw new Error('canonical: the payload is not one closed element');
  }

  /** The start tag at `lt` of an element at depth `d`, handed to the writer. */
  private open(lt: number, d: number): void {
    const f = this.f;
    const w = this.w;
    let j = lt + 1;
    let colon = -1;
    for (;;) {
      const c = f.charCodeAt(j);
      if (c === 62 || c === 47 || isSpace(c)) break;
      if (c === 58 && colon < 0) colon = j;
      j++;
    }
    const hasPrefix = colon > 0;
    w.tag();
    const c = f.charCodeAt(j);
    if (c === 62) {
      // No attributes: most elements of a payload.
      this.selfClosing = false;
      this.i = j + 1;
    } else if (c === 47) {
      this.selfClosing = true;
      this.i = j + 2;
    } else {
      this.attributes(j, d);
    }
    const uri = this.lookup(hasPrefix ? f.slice(lt + 1, colon) : '');
    w.open(d, lt, hasPrefix ? colon + 1 : lt + 1, j, hasPrefix, c === 62, uri, this.i);
  }

  /** The attributes from `j` to the end of the start tag of an element at depth `d`; declarations take effect first. */
  private attributes(j: number, d: number): void {
    const f = this.f;
    const w = this.w;
    this.nRaw = 0;
    let i = j;
    for (;;) {
      while (isSpace(f.charCodeAt(i))) i++;
      const c = f.charCodeAt(i);
      if (c === 62) {
        this.selfClosing = false;
        i++;
        break;
      }
      if (c === 47) {
        this.selfClosing = true;
        i += 2;
        break;
      }
      const a = i;
      while (f.charCodeAt(i) !== 61 && !isSpace(f.charCodeAt(i))) i++;
      const e = i;
      while (f.charCodeAt(i) !== 61) i++;
      i++;
      while (isSpace(f.charCodeAt(i))) i++;
      const close = f.indexOf(f[i]!, i + 1);
      const vFrom = i + 1;
      i = close + 1;
      if (f.startsWith('xmlns', a) && (e - a === 5 || f.charCodeAt(a + 5) === 58)) {
        const n = this.nDecl++;
        this.declPrefix[n] = e - a === 5 ? '' : f.slice(a + 6, e);
        this.declUri[n] = intern(w.attrValue(f.slice(vFrom, close)));
        this.declDepth[n] = d;
      } else {
        const n = this.nRaw++;
        this.rawFrom[n] = a;
        this.rawTo[n] = e;
        this.valFrom[n] = vFrom;
        this.valTo[n] = close;
      }
    }
    this.i = i;
    for (let k = 0; k < this.nRaw; k++) {
      const a = this.rawFrom[k]!;
      const e = this.rawTo[k]!;
      const colon = f.indexOf(':', a);
      const prefixed = colon >= 0 && colon < e;
      w.attribute(prefixed ? this.lookup(f.slice(a, colon)) : '', f.slice(prefixed ? colon + 1 : a, e), f.slice(this.valFrom[k], this.valTo[k]));
    }
  }

  /** The namespace URI of `prefix`, as the writer compares it (the scopes hold characters, whatever the text). */
  private lookup(prefix: string): string {
    const dp = this.declPrefix;
    for (let k = this.nDecl - 1; k >= 0; k--) if (dp[k] === prefix) return this.declUri[k]!;
    const scopes = this.scopes;
    const key = this.w.chars(prefix);
    for (let k = scopes.length - 1; k >= 0; k--) {
      const sc = scopes[k]!;
      if (Object.hasOwn(sc, key)) return this.w.nsUri(sc[key]!);
    }
    if (prefix === 'xml') return NS.xml;
    if (prefix === '') return '';
    throw new SdataError('SDATA_E_MALFORMED', `payload: prefix '${key}' is not declared`);
  }
}

const reader = new PayloadReader();
