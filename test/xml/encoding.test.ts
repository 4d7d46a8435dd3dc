// One encoding policy for every reader (src/xml/encoding.ts): UTF-8 only, a UTF-8 byte order mark allowed, UTF-16
// and UTF-32 refused by name, an XML declaration naming anything but UTF-8 (in any case) refused by name, with the
// position of the name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SdataError } from '../../src/protocol/errors.ts';
import { decodeDocument, foreignEncoding } from '../../src/xml/encoding.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import { ResultScanner } from '../../src/xml/result-scanner.ts';
import { parseSchemaKinds } from '../../src/xml/schema-kinds.ts';
import { parseDiagnoses, parseTracking } from '../../src/xml/tracking-reader.ts';
import { DIGEST_ENTRY_5_2 } from '../helpers/spec-examples.ts';

const ATOM_FEED = '<feed xmlns="http://www.w3.org/2005/Atom"/>';
const TRACKING = '<tracking xmlns="http://schemas.sage.com/sdata/2008/1"><pollingMillis>7</pollingMillis></tracking>';
const SCHEMA = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sme="http://schemas.sage.com/sdata/sme/2007">' +
  '<xs:element name="accounts" sme:syncOrder="1" sme:isSyncSource="true"/></xs:schema>';

/** Every reader, each given the same prologue (declaration and/or byte order mark) before its own document. */
const READERS: Record<string, (prologue: Uint8Array) => unknown> = {
  FeedReader: (pro) => {
    const r = new FeedReader({ head() {}, entry() {}, end() {} }, { source: 'in.xml', requireSyncHead: false });
    // One byte at a time: the byte order mark and the declaration may come in any pieces.
    const bytes = Buffer.concat([pro, Buffer.from(ATOM_FEED)]);
    for (let i = 0; i < bytes.length; i++) r.push(bytes.subarray(i, i + 1));
    r.end();
    return true;
  },
  ResultScanner: (pro) => {
    const r = new ResultScanner(() => {}, { source: 'in.xml' });
    const bytes = Buffer.concat([pro, Buffer.from(ATOM_FEED)]);
    for (let i = 0; i < bytes.length; i++) r.push(bytes.subarray(i, i + 1));
    return r.end();
  },
  parseDigestDocument: (pro) => parseDigestDocument(Buffer.concat([pro, Buffer.from(DIGEST_ENTRY_5_2)]).toString('utf8'), 'in.xml'),
  parseSchemaKinds: (pro) => parseSchemaKinds(Buffer.concat([pro, Buffer.from(SCHEMA)]).toString('utf8'), 'in.xml'),
  decodeDocument: (pro) => decodeDocument(Buffer.concat([pro, Buffer.from(ATOM_FEED)]), 'in.xml'),
};

function refused(name: RegExp, line?: number, column?: number) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SdataError, `not an SdataError: ${String(e)}`);
    assert.equal(e.code, 'SDATA_E_ENCODING');
    assert.match(e.message, name);
    if (line !== undefined) {
      assert.equal(e.details.line, line);
      assert.equal(e.details.column, column);
      assert.match(e.message, new RegExp(`^in\\.xml:${line}:${column}: `));
    }
    return true;
  };
}

const BOM8 = Buffer.from([0xef, 0xbb, 0xbf]);
const decl = (enc: string): Buffer => Buffer.from(`<?xml version="1.0" encoding="${enc}"?>\n`);

describe('encoding policy, the same in every reader', () => {
  for (const [name, read] of Object.entries(READERS)) {
    it(`${name}: UTF-8, declared in any case or not, with or without a byte order mark`, () => {
      for (const pro of [Buffer.alloc(0), BOM8, decl('UTF-8'), decl('utf-8'), decl('Utf-8'), Buffer.concat([BOM8, decl('UTF-8')]),
        Buffer.from("<?xml version='1.0' encoding = 'utf-8' standalone='yes'?>")]) {
        assert.doesNotThrow(() => read(pro), `${name} refuses ${JSON.stringify(pro.toString())}`);
      }
    });

    it(`${name}: any other declared encoding is refused by name, at the name`, () => {
      // `utf8` is no name of UTF-8 (XML 1.0 §4.3.3 names encodings as IANA does), and US-ASCII is not UTF-8 either.
      for (const enc of ['utf8', 'US-ASCII', 'ISO-8859-1', 'UTF-16', 'windows-1252']) {
        assert.throws(() => read(decl(enc)), refused(new RegExp(`'${enc}'`), 1, 31), `${name} accepts ${enc}`);
      }
      // The position is the name's, across lines too (after a UTF-8 byte order mark, which is no character).
      const split = Buffer.concat([BOM8, Buffer.from('<?xml version="1.0"\n   encoding="latin1"?>')]);
      assert.throws(() => read(split), refused(/'latin1'/, 2, 14));
    });

    it(`${name}: UTF-16 and UTF-32 are refused by name, with or without a byte order mark`, () => {
      const doc = '<?xml version="1.0"?><feed/>';
      const le = Buffer.from(doc, 'utf16le');
      const be = Buffer.from(le).swap16();
      const cases: Array<[Buffer, RegExp]> = [
        [Buffer.concat([Buffer.from([0xff, 0xfe]), le]), /UTF-16LE/],
        [Buffer.concat([Buffer.from([0xfe, 0xff]), be]), /UTF-16BE/],
        [le, /UTF-16LE/],
        [be, /UTF-16BE/],
        [Buffer.from([0xff, 0xfe, 0, 0, 0x3c, 0, 0, 0]), /UTF-32LE/],
        [Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x3c]), /UTF-32BE/],
      ];
      // As a prologue to the reader's own document: what counts is how the input starts.
      for (const [bytes, enc] of cases) assert.throws(() => read(bytes), refused(enc), `${name}: ${enc}`);
    });
  }

  it('decodeDocument: the text of the bytes, ASCII or not, without a UTF-8 byte order mark', () => {
    for (const text of ['<a>plain ASCII, as every digest we write</a>', '<a>café 😀 同期</a>', '', '<', '<a/>\r\n']) {
      assert.equal(decodeDocument(Buffer.from(text), 'in.xml'), text);
      assert.equal(decodeDocument(Buffer.concat([BOM8, Buffer.from(text)]), 'in.xml'), text);
    }
  });

  it('FeedReader and ResultScanner name the bytes that are not UTF-8, and a document ending inside a character', () => {
    const bad = Buffer.concat([Buffer.from('<feed xmlns="http://www.w3.org/2005/Atom">caf'), Buffer.from([0xe9]), Buffer.from('</feed>')]);
    // Pushed a byte at a time: the decoder finds the fault one byte late, the message still names where it begins.
    assert.throws(() => READERS['FeedReader']!(bad), refused(/invalid UTF-8 at byte 45 \(e9 3c\)/));
    assert.throws(() => READERS['ResultScanner']!(bad), refused(/invalid UTF-8 at byte 45 \(e9 3c\)/));
    assert.throws(() => decodeDocument(bad, 'in.xml'), refused(/invalid UTF-8 at byte 45 /));
    // A surrogate encoded in UTF-8 (CESU) and an overlong form are no UTF-8 either.
    assert.throws(() => decodeDocument(Buffer.from([0x3c, 0x61, 0x3e, 0xed, 0xa0, 0x80]), 'in.xml'), refused(/at byte 3 \(ed a0 80\)/));
    assert.throws(() => decodeDocument(Buffer.from([0x3c, 0x61, 0x3e, 0xc0, 0xbc]), 'in.xml'), refused(/at byte 3 \(c0 bc\)/));
    assert.throws(() => decodeDocument(Buffer.from([0x3c, 0x61, 0x3e, 0xc3]), 'in.xml'), refused(/ends inside a UTF-8 sequence/));
  });

  it('the lenient tracking and diagnoses readers read nothing from a document in another encoding', () => {
    assert.deepEqual(parseTracking(TRACKING), { pollingMillis: 7 });
    assert.equal(parseTracking(`<?xml version="1.0" encoding="ISO-8859-1"?>${TRACKING}`), undefined);
    assert.equal(parseTracking(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TRACKING, 'utf16le')]).toString('utf8')), undefined);
    const diag = '<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:diagnosis><sdata:message>no</sdata:message></sdata:diagnosis></sdata:diagnoses>';
    assert.equal(parseDiagnoses(diag).length, 1);
    assert.deepEqual(parseDiagnoses(`<?xml version="1.0" encoding="latin1"?>${diag}`), []);
  });

  it('foreignEncoding tells the encodings of XML 1.0 appendix F apart from UTF-8', () => {
    assert.equal(foreignEncoding(Buffer.from('<?xm')), undefined);
    assert.equal(foreignEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x3c])), undefined);
    assert.equal(foreignEncoding(Buffer.from([0x3c, 0, 0x3f, 0])), 'UTF-16LE');
    assert.equal(foreignEncoding(Buffer.from([0, 0x3c, 0, 0x3f])), 'UTF-16BE');
    assert.equal(foreignEncoding(Buffer.from([0, 0, 0, 0x3c])), 'UTF-32BE');
    assert.equal(foreignEncoding(Buffer.from([0x3c, 0, 0, 0])), 'UTF-32LE');
  });
});
