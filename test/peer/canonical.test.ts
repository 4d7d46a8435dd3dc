import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { after, before, it } from 'node:test';
import { generatePage } from '../../src/gen/stream.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { seedResource } from '../../src/seeder/seed-store.ts';
import { canonicalXml, fragmentPayload, payloadOf } from '../../src/xml/canonical.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import { oracleSuite } from '../helpers/oracle.ts';
import { startPeer, type CanonEntry, type Peer } from '../helpers/peer.ts';

/**
 * Our canonical payload form (src/xml/canonical.ts, docs/protocol.md X23) against the independent peer's: Canonical
 * XML 2.0 by Python's ElementTree on expat, with prefixes rewritten, sdata:key/url/lookup/descriptor dropped and uuids
 * lower-cased (POST $peer/canon). Ours normalises more (white space between elements, child lists), so the two texts
 * differ; what must hold:
 * - whatever C14N treats as insignificant, ours does too: our form of the peer's canonical text is our form of the
 *   payload (for payloads of every style the generator, the seeder and the cases below write);
 * - ours keeps what C14N keeps: where ours normalises nothing more (no layout white space, no lists), the peer's
 *   canonical text of our canonical text is its canonical text of the payload.
 */

const C = 'http://schemas.sage.com/myContract';
const X = 'http://example.com/ext';

/**
 * Payloads with nothing but what C14N itself normalises (no layout white space, no child lists). No `&#13;`: the
 * peer serialises its tree before canonicalising it (ElementTree.tostring), which writes a CR character raw, and
 * re-reading that makes it a line end; ours keeps it (test/xml/canonical.test.ts).
 */
const PLAIN: string[] = [
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="A1" sdata:key="7"><name>R&amp;D caf&#233; &#x1F600; &lt;x&gt;</name><notes><![CDATA[<b>x</b> & ]]]]><![CDATA[>]]></notes></account>`,
  `<c:account xmlns:c="${C}" xmlns:s="${NS.sdata}" xmlns:x="${X}" s:uuid="a2" x:b="2" z="q&quot;&#9;t" x:a="&lt;1"><c:name>N<!-- c --></c:name><x:ext x:k="v"/><?pi data?></c:account>`,
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" xmlns:xsi="${NS.xsi}" sdata:uuid="a3"><fax xsi:nil="true"/><memo>a\r\nb\rc</memo><t note="x\ty\nz">v</t></account>`,
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="a4"><other xmlns="${X}"><deep xmlns="${C}">back</deep></other><p:n xmlns:p="${X}">1</p:n><p:n xmlns:p="${C}">2</p:n></account>`,
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="a5" xml:lang="fr"><name xml:space="preserve">  spaced  </name><mixed>a <b>b</b> c</mixed><empty/></account>`,
  `<x:account xmlns:x="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="a6"><x:name>Größe 東京 𝄞 &#x10FFFF;</x:name><x:primaryContact sdata:uuid="ABCDEF00-0000-4000-8000-000000000001"/></x:account>`,
];

/** Payloads with layout, lists, flags and the local attributes: only the first property is checked on them. */
const STYLED: string[] = [
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="b1">\n  <name>A</name>\n  <addresses sdata:deleteMissing="true">\n    <address sdata:uuid="U2"><street>b</street></address>\n    <address sdata:uuid="u1"><street>a</street></address>\n  </addresses>\n</account>`,
  `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" sdata:uuid="b2" sdata:url="http://a/x('1')"><addresses><address sdata:uuid="u3" sync:isDeleted="1"/><address sdata:uuid="u1"/></addresses></account>`,
];

/** A sync feed carrying the payloads, with the prefixes c and x bound on the feed (payloads may use them). */
function feed(payloads: readonly string[]): string {
  let x = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:c="${C}" xmlns:x="${X}"><id>urn:t</id><title>t</title>` +
    `<updated>2020-01-01T00:00:00Z</updated><sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:origin>http://a/x</sync:origin>` +
    '<sync:digestEntry><sync:endpoint>http://a/x</sync:endpoint><sync:tick>9</sync:tick></sync:digestEntry></sync:digest>';
  payloads.forEach((p, i) => {
    x += `<entry><id>urn:e${i}</id><sync:syncState><sync:endpoint>http://a/x</sync:endpoint><sync:tick>${i}</sync:tick><sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState>` +
      `<sdata:payload>${p}</sdata:payload></entry>`;
  });
  return `${x}</feed>`;
}

/** Our canonical form of each live entry of a feed, in order (undefined for deletions). */
function ours(feedXml: string): Array<string | undefined> {
  const out: Array<string | undefined> = [];
  const r = new FeedReader({ head: () => undefined, entry: (e: EntryRecord) => out.push(e.isDeleted ? undefined : canonicalXml(payloadOf(e)!)), end: () => undefined });
  r.pushText(feedXml);
  r.end();
  return out;
}

const oursOf = (c14n: string): string => canonicalXml(fragmentPayload(c14n));

oracleSuite('the canonical payload form against the peer\'s Canonical XML 2.0', ['expat'], { timeout: 60_000, concurrency: 1 }, () => {
  let peer: Peer;
  before(async () => {
    peer = await startPeer({ app: 'canon' });
  });
  after(() => peer?.stop());

  const theirs = async (feedXml: string): Promise<CanonEntry[]> => (await peer.canon(feedXml)).entries;

  /** The first property: ours(P) = ours(peer(P)) for every live entry. */
  async function invariant(feedXml: string, what: string): Promise<number> {
    const mine = ours(feedXml);
    const peers = await theirs(feedXml);
    assert.equal(peers.length, mine.length, what);
    let n = 0;
    peers.forEach((p, i) => {
      if (p.deleted) return;
      assert.ok(p.canonical, `${what} #${i}: ${p.error ?? 'no canonical form'}`);
      assert.equal(oursOf(p.canonical), mine[i], `${what} #${i}: our form of the peer's C14N differs from our form of the payload`);
      n++;
    });
    return n;
  }

  it('whatever C14N 2.0 normalises, ours does too: hand-written payloads', async () => {
    assert.equal(await invariant(feed([...PLAIN, ...STYLED]), 'cases'), PLAIN.length + STYLED.length);
  });

  it('… the generator\'s pages (three namespace styles: prefixes bound per page, per entry, on every element)', async () => {
    let live = 0;
    for (let pg = 0; pg < 3; pg++) live += await invariant(await text(generatePage({ count: 180, pageSize: 60, seed: 5 }, pg)), `generated page ${pg + 1}`);
    assert.ok(live > 150, `${live} live entries compared`);
  });

  it('… the seeder\'s payloads (what the reference provider stores)', async () => {
    const payloads = Array.from({ length: 60 }, (_, i) => seedResource(i, 3).payload);
    assert.equal(await invariant(feed(payloads), 'seeded'), 60);
  });

  it('ours keeps what C14N keeps: the peer\'s C14N of our canonical text is its C14N of the payload', async () => {
    const direct = await theirs(feed(PLAIN));
    const viaOurs = await theirs(feed(ours(feed(PLAIN)).map((c) => c!)));
    assert.deepEqual(viaOurs.map((e) => e.canonical), direct.map((e) => e.canonical));
    assert.ok(direct.every((e) => e.canonical && e.canonical.length > 40));
  });

  it('what ours tells apart, C14N tells apart too (no two different payloads made equal by a mistake of ours)', async () => {
    const all = [...PLAIN, ...Array.from({ length: 30 }, (_, i) => seedResource(i, 4).payload)];
    const mine = ours(feed(all));
    const peers = await theirs(feed(all));
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        if (mine[i] === mine[j]) assert.equal(peers[i]!.canonical, peers[j]!.canonical, `${i} and ${j}: equal for us only`);
      }
    }
    assert.equal(new Set(mine).size, all.length, 'every payload here is different');
  });
});
