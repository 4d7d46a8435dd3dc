// One entity policy (src/xml/entities.ts), held against saxes, which applies XML 1.0's rules to what it parses:
// every reader that decodes text itself must decode exactly what saxes decodes and refuse exactly what it refuses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SaxesParser } from 'saxes';
import { isSdataError } from '../../src/protocol/errors.ts';
import { decodeEntities } from '../../src/xml/entities.ts';
import { rawToText } from '../../src/xml/raw-text.ts';
import { ResultScanner } from '../../src/xml/result-scanner.ts';
import type { ResultEntry } from '../../src/xml/result-types.ts';

const REFS = [
  '&amp;', '&lt;', '&gt;', '&quot;', '&apos;', '&#65;', '&#x41;', '&#x1F600;', '&#0065;', '&#x00041;', '&#9;', '&#10;', '&#13;',
  '&#xD7FF;', '&#xE000;', '&#xFFFD;', '&#x10FFFF;', '&lt;&gt;&amp;',
  // errors
  '&#X41;', '&#0;', '&#x0;', '&#1;', '&#xD800;', '&#xDFFF;', '&#xFFFE;', '&#xFFFF;', '&#x110000;', '&#99999999999;', '&#-1;',
  '&#+65;', '&#x+41;', '&#;', '&#x;', '&# 65;', '&bogus;', '&AMP;', '&nbsp;', '&;', '& ', '&amp', '&#65', '&a b;', 'a & b;',
];

/** What saxes makes of `<a>x{ref}y</a>`: the text, or undefined when it refuses it. */
function bySaxes(ref: string): string | undefined {
  const p = new SaxesParser({ xmlns: true });
  let text = '';
  p.on('text', (t) => (text += t));
  try {
    p.write(`<a>x${ref}y</a>`).close();
    return text;
  } catch {
    return undefined;
  }
}

function byDecoder(f: (text: string) => string, ref: string): string | undefined {
  try {
    return f(`x${ref}y`);
  } catch {
    return undefined;
  }
}

const fail = (at: number, problem: string): Error => Object.assign(new Error(problem), { at });

describe('the one entity decoder, against saxes', () => {
  it('decodes what saxes decodes and refuses what it refuses', () => {
    let refused = 0;
    for (const ref of REFS) {
      const want = bySaxes(ref);
      if (want === undefined) refused++;
      assert.equal(byDecoder((t) => decodeEntities(t, fail), ref), want, `decodeEntities on ${ref}`);
      assert.equal(byDecoder((t) => rawToText(t, fail), ref), want, `rawToText on ${ref}`);
    }
    assert.ok(refused >= 20, 'the list must hold refusals too');
  });

  it('the result scanner reads references in text and attributes the same way', () => {
    for (const ref of REFS) {
      const want = bySaxes(ref);
      const doc = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:h="http://schemas.sage.com/sdata/http/2008/1">` +
        `<entry><h:httpMessage>x${ref}y</h:httpMessage></entry><link rel="next" href="x${ref.replace(/"/g, '&quot;')}y"/></feed>`;
      const got: ResultEntry[] = [];
      let next: string | undefined;
      let error: unknown;
      try {
        const r = new ResultScanner((e) => got.push(e));
        r.push(Buffer.from(doc));
        next = r.end().next;
      } catch (e) {
        error = e;
      }
      if (want === undefined) {
        assert.ok(isSdataError(error) && error.code === 'SDATA_E_MALFORMED', `the scanner accepts ${ref}`);
      } else {
        assert.equal(error, undefined, `the scanner refuses ${ref}`);
        assert.equal(got[0]?.message, want.trim(), ref);
        assert.equal(next, want.replace(/\s+/g, ''), ref);
      }
    }
  });

  it('an error names the offset of its & and what is wrong', () => {
    const at = (text: string, offset = 0): [number, string] => {
      try {
        decodeEntities(text, fail, offset);
      } catch (e) {
        return [(e as { at: number }).at, (e as Error).message];
      }
      assert.fail(`accepted ${text}`);
    };
    assert.deepEqual(at('ok &amp; &nbsp;'), [9, "undefined entity '&nbsp;' (only the five predefined entities exist: DOCTYPE is refused)"]);
    assert.deepEqual(at('&#0;', 100), [100, "invalid character reference '&#0;'"]);
    assert.deepEqual(at('R&D'), [1, "'&' that starts no reference (write it as &amp;)"]);
    assert.deepEqual(at('a\r\nb &bad;'.replace('\r\n', '\n')), [4, "undefined entity '&bad;' (only the five predefined entities exist: DOCTYPE is refused)"]);
  });

  it('XML 1.1 documents may reference the control characters U+0001 to U+001F', () => {
    assert.equal(decodeEntities('&#1;&#x1F;', fail, 0, true), '\u0001\u001f');
    assert.throws(() => decodeEntities('&#1;', fail), /invalid character reference/);
    assert.throws(() => decodeEntities('&#0;', fail, 0, true), /invalid character reference/);
  });

  it('rawToText reads mixed content as saxes does: line ends normalised (CDATA too), a &#13; kept as a CR', () => {
    const raw = 'a\r\nb\rc&#13;d<![CDATA[e\r\nf\rg&amp;]]><!-- g --><?pi h?><i>j&lt;</i>\r\n';
    const p = new SaxesParser({ xmlns: true });
    let want = '';
    p.on('text', (t) => (want += t));
    p.on('cdata', (t) => (want += t));
    p.write(`<x>${raw}</x>`).close();
    assert.equal(want, 'a\nb\nc\rde\nf\ng&amp;j<\n');
    assert.equal(rawToText(raw, fail), want);
  });
});
