import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decider } from '../../src/plan/decide.ts';
import { EndpointTicks, FORWARD, hashOf, SKIP, UNKNOWN } from '../../src/plan/endpoint-ticks.ts';
import { digestKey, emptyDigest, serializeDigestEntry, setDigestEntry, type Digest } from '../../src/protocol/digest.ts';
import { normalizeEndpoint } from '../../src/protocol/endpoint.ts';
import { tickLess } from '../../src/protocol/ticks.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { prng } from '../helpers/feeds.ts';

// The decision of docs/engine-rules.md §1 against a target digest of many endpoints, made with the look-up table
// (src/plan/endpoint-ticks.ts) rather than a Map: the oracle is the rule itself, over a Map of the same entries.

/** A tick of `digits` digits (canonical: no leading zero). */
function tickOf(rnd: () => number, digits: number): string {
  let t = String(1 + Math.floor(rnd() * 9));
  while (t.length < digits) t += String(Math.floor(rnd() * 10));
  return t;
}

/** Ticks of every length a double holds exactly or not (15 and 16 digits on either side of the limit), and equal ones. */
function someTicks(rnd: () => number): string[] {
  const lengths = [1, 2, 5, 12, 14, 15, 16, 17, 25];
  return lengths.map((n) => tickOf(rnd, n));
}

/** The rule: skip iff the key is known and tick < its tick. */
function oracle(map: Map<string, string>, key: string, tick: string): number {
  const t = map.get(key);
  return t === undefined ? UNKNOWN : tickLess(tick, t) ? SKIP : FORWARD;
}

describe('endpoint tick table', () => {
  const rnd = prng(11);
  // Keys with Latin-1 characters beyond ASCII too; some given twice (the last tick counts, as in a digest's Map).
  const keys: string[] = [];
  const ticks: string[] = [];
  const map = new Map<string, string>();
  for (let i = 0; i < 2000; i++) {
    const key = i % 7 === 0 ? `http://hôte${i}.example/sdata/app/c/-/accounts` : `http://www.example.com/sdata/app${i}/myContract/-/accounts`;
    const tick = someTicks(rnd)[i % 9]!;
    keys.push(key);
    ticks.push(tick);
    map.set(key, tick);
    if (i % 13 === 0) {
      const again = tickOf(rnd, 1 + (i % 17));
      keys.push(key);
      ticks.push(again);
      map.set(key, again);
    }
  }
  const table = EndpointTicks.of(keys, ticks)!;

  /** Questions: every key with a tick below, equal to and above its own, and keys the table does not have. */
  function questions(): Array<[string, string]> {
    const q: Array<[string, string]> = [];
    for (const [key, t] of map) {
      q.push([key, t], [key, tickOf(rnd, Math.max(1, t.length - 1))], [key, tickOf(rnd, t.length + 1)], [key, tickOf(rnd, t.length)]);
    }
    for (let i = 0; i < 500; i++) q.push([`http://www.example.com/sdata/app${2000 + i}/myContract/-/accounts`, '5'], [`http://www.example.com/sdata/app${i}/myContract/-/account`, '5']);
    q.push(['', '1'], ['h', '1']);
    return q;
  }

  it('is made for keys of Latin-1, and says what the rule says for each question, asked one by one', () => {
    assert.ok(table !== undefined);
    for (const [key, tick] of questions()) assert.equal(table.decide(key, tick), oracle(map, key, tick), `${key} ${tick}`);
  });

  it('says the same asked a batch at a time, the endpoints given as strings or as the bytes of a piece', () => {
    const q = questions();
    // A piece: the endpoints' bytes one after another, with other bytes between them; every third given as a string only.
    let text = '';
    const at: number[] = [];
    for (const [k, [key]] of q.entries()) {
      text += '<x>';
      at.push(k % 3 === 0 || key === '' ? -1 : Buffer.byteLength(text, 'latin1'));
      text += `${key}</x>`;
    }
    const bytes = Buffer.from(text, 'latin1');
    const out = new Int8Array(q.length);
    for (let from = 0; from < q.length; from += 97) {
      const n = Math.min(97, q.length - from);
      const part = q.slice(from, from + n);
      table.decideAll(part.map(([key]) => key), part.map(([, t]) => t), n, out, bytes, at.slice(from, from + n));
      for (let k = 0; k < n; k++) assert.equal(out[k], oracle(map, part[k]![0], part[k]![1]), `${part[k]![0]} ${part[k]![1]}`);
    }
  });

  it('is not made where a Map serves: a character beyond Latin-1, an empty key, keys that crowd together', () => {
    assert.equal(EndpointTicks.of(['http://a.example/x', 'http://例え.jp/x'], ['1', '2']), undefined);
    assert.equal(EndpointTicks.of(['http://a.example/x', ''], ['1', '2']), undefined);
    assert.equal(EndpointTicks.of([], []), undefined);
    // 300 keys in 1,024 slots; 80 of them chosen to hash to one slot, as keys made to collide would.
    const crowd: string[] = [];
    for (let i = 0; crowd.length < 80; i++) {
      const key = `http://h${i}.example/x`;
      if ((hashOf(key) & 1023) === 5) crowd.push(key);
    }
    const many = [...crowd, ...Array.from({ length: 220 }, (_, i) => `http://other${i}.example/x`)];
    assert.equal(EndpointTicks.of(many, many.map(() => '1')), undefined);
    // The same number of keys spread by their hashes is made.
    const spread = Array.from({ length: 300 }, (_, i) => `http://spread${i}.example/x`);
    assert.ok(EndpointTicks.of(spread, spread.map(() => '1')) !== undefined);
  });
});

describe('decider with a digest of many endpoints', () => {
  const rnd = prng(5);
  /** 400 endpoints (more than the decider looks up in a Map), with ticks of every length. */
  const entries = Array.from({ length: 400 }, (_, i) => ({ endpoint: `http://www.example.com/sdata/app${i}/c/-/accounts`, tick: someTicks(rnd)[i % 9]! }));
  const digestOf = (): Digest => {
    const d = emptyDigest('http://www.example.com/sdata/app0/c/-/accounts');
    for (const e of entries) setDigestEntry(d, { endpoint: e.endpoint, tick: e.tick, stamp: '2024-05-01T00:00:00.000Z', conflictPriority: 5 });
    return d;
  };
  /** Entries as a feed names them: endpoints as keys, spelt otherwise (normalising to a key), or unknown; ticks around the digest's. */
  const asked: Array<[string, string]> = [];
  for (const e of entries) {
    const other = e.endpoint.replace('http://www.example.com', 'HTTP://WWW.Example.COM') + '/';
    for (const t of [e.tick, tickOf(rnd, e.tick.length), tickOf(rnd, e.tick.length + 1), tickOf(rnd, Math.max(1, e.tick.length - 1))]) {
      asked.push([e.endpoint, t], [other, t]);
    }
  }
  for (let i = 0; i < 50; i++) asked.push([`http://www.example.com/sdata/app${400 + i}/c/-/accounts`, '7'], [`HTTP://Nowhere${i}.example/x/`, '7']);
  const rule = (endpoint: string, tick: string): 'skip' | 'forward' => {
    const t = digestOf().entries.get(normalizeEndpoint(endpoint))?.tick;
    return t !== undefined && tickLess(tick, t) ? 'skip' : 'forward';
  };
  const want = asked.map(([ep, t]) => rule(ep, t));

  it('decides as the rule does, one entry at a time and a batch at a time', () => {
    const one = new Decider(digestOf());
    assert.deepEqual(asked.map(([ep, t]) => one.decideState(ep, t)), want);
    const batch = new Decider(digestOf());
    const found = batch.decideAll(asked.map(([ep]) => ep), asked.map(([, t]) => t), asked.length, Buffer.alloc(0), asked.map(() => -1));
    assert.deepEqual([...found.subarray(0, asked.length)].map((f) => (f === SKIP ? 'skip' : 'forward')), want);
  });

  it('decides the same from a digest document, without its entries made, and the entries read later are the same', () => {
    const xml = serializeDigestEntry(digestOf(), 'http://t.example/sdata/app/c/-/accounts/$syncDigest');
    const lazy = parseDigestDocument(xml, 'd.xml');
    assert.deepEqual(asked.map(([ep, t]) => new Decider(lazy).decideState(ep, t)).slice(0, 40), want.slice(0, 40));
    const d = new Decider(lazy);
    assert.deepEqual(asked.map(([ep, t]) => d.decideState(ep, t)), want);
    assert.equal(digestKey(lazy), digestKey(digestOf()));
    assert.deepEqual(asked.map(([ep, t]) => new Decider(lazy).decideState(ep, t)), want);
  });

  it("a key normalising makes that is not its own normalisation (a space before a trailing slash) is found by the endpoint's spelling", () => {
    const d = digestOf();
    setDigestEntry(d, { endpoint: 'http://odd.example/x /', tick: '50', stamp: '', conflictPriority: 5 });
    assert.ok(d.entries.has('http://odd.example/x '));
    const decider = new Decider(d);
    assert.equal(decider.decideState('http://odd.example/x /', '10'), 'skip');
    assert.equal(decider.decideState('http://odd.example/x /', '60'), 'forward');
    assert.deepEqual(asked.map(([ep, t]) => decider.decideState(ep, t)), want);
  });

  it('a digest whose map has keys not in normal form: those are no keys as written, as with a small digest', () => {
    const d = digestOf();
    const odd = { endpoint: 'HTTP://A.EXAMPLE/x/', tick: '10', stamp: '', conflictPriority: 5 };
    d.entries.set(odd.endpoint, odd); // not through setDigestEntry: its key is no endpoint's normalisation
    const decider = new Decider(d);
    assert.equal(decider.decideState('HTTP://A.EXAMPLE/x/', '5'), 'forward');
    assert.equal(decider.decideState('http://a.example/x', '5'), 'forward');
    assert.deepEqual(asked.map(([ep, t]) => decider.decideState(ep, t)), want);
  });
});
