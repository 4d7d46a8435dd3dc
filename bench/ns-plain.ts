// A measured proposal for the reader: run saxes WITHOUT its namespace processing (`xmlns: false`) and track
// namespaces ourselves, with the same namespace well-formedness checks. saxes' xmlns mode builds an object per
// attribute, resolves every prefix by walking its tag stack and fills a Set per element; most of that is work the
// feed reader does not need, since it only looks at a few elements per entry.
//
//   node bench/ns-plain.ts verify      same (uri, local, attributes) for every element as saxes xmlns mode on
//                                      generated feeds (every page style), and the same rejections
//   node bench/ns-plain.ts [speed]     CPU time of bare saxes (xmlns) against saxes plain + PlainNs, each in its
//                                      own process (saxes' hot functions must not see both modes), alternating
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SaxesParser, type SaxesAttributePlain, type SaxesTagPlain } from 'saxes';
import { pageTexts, resolveFeedOptions, PAGE_STYLE_COUNT } from '../src/gen/synthetic-feed.ts';

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
type Scope = Record<string, string>;
const ROOT_SCOPE: Scope = Object.freeze({ xml: XML_NS, xmlns: XMLNS_NS });

/**
 * Namespace tracking over a plain saxes parser. After each 'opentag' (call `open(tag)` first thing in your handler)
 * `uri`, `local` and `scope` describe the element; `attrUri(name)` resolves a prefixed attribute. Errors are thrown
 * with saxes' own wording where saxes has one.
 */
export class PlainNs {
  uri = '';
  scope: Scope = ROOT_SCOPE;
  /** The default namespace in scope, kept apart: a field load instead of a keyed lookup on varied scope shapes. */
  private def = '';
  private readonly scopes: Scope[] = [];
  private readonly defs: string[] = [];
  // Collected by the 'attribute' handler, which saxes calls before 'opentag' for the same element.
  private declPrefixes: string[] = [];
  private declUris: string[] = [];
  private prefixed: string[] = [];
  private readonly fail: (msg: string) => never;

  constructor(fail: (msg: string) => never) {
    this.fail = fail;
  }

  readonly attribute = (a: SaxesAttributePlain): void => {
    const n = a.name;
    const c = n.indexOf(':');
    if (c < 0) {
      if (n === 'xmlns') {
        this.declPrefixes.push('');
        this.declUris.push(a.value.trim());
      }
      return;
    }
    if (c === 0 || c === n.length - 1 || n.indexOf(':', c + 1) >= 0) this.fail(`malformed name: ${n}.`);
    if (c === 5 && n.startsWith('xmlns')) {
      const v = a.value.trim();
      if (v === '') this.fail('invalid attempt to undefine prefix in XML 1.0');
      this.declPrefixes.push(n.slice(6));
      this.declUris.push(v);
      return;
    }
    this.prefixed.push(n);
  };

  open(tag: SaxesTagPlain): void {
    const parent = this.scope;
    this.scopes.push(parent);
    this.defs.push(this.def);
    let s = parent;
    if (this.declPrefixes.length > 0) s = this.bindDecls(parent);
    this.scope = s;
    const name = tag.name;
    this.name = name;
    const c = name.indexOf(':');
    this.colon = c;
    if (c < 0) {
      this.uri = this.def;
    } else {
      if (c === 0 || c === name.length - 1 || name.indexOf(':', c + 1) >= 0) this.fail(`malformed name: ${name}.`);
      const uri = s[name.slice(0, c)];
      // Only the reserved xmlns prefix maps to the xmlns URI (binding another prefix to it is refused).
      if (uri === undefined || uri === XMLNS_NS) this.unbound(name.slice(0, c));
      this.uri = uri!;
    }
    if (this.prefixed.length > 0) this.checkAttributes(s);
  }

  /** Local name of the element just opened (computed on demand: most elements are never asked). */
  get local(): string {
    return this.colon < 0 ? this.name : this.name.slice(this.colon + 1);
  }

  private name = '';
  private colon = -1;

  private bindDecls(parent: Scope): Scope {
    const s: Scope = { ...parent };
    const dp = this.declPrefixes;
    for (let k = 0; k < dp.length; k++) {
      const prefix = dp[k]!;
      const uri = this.declUris[k]!;
      this.pairCheck(prefix, uri);
      if (prefix === '') this.def = uri;
      else s[prefix] = uri;
    }
    this.declPrefixes = [];
    this.declUris = [];
    return s;
  }

  private unbound(prefix: string): never {
    if (prefix === 'xmlns') this.fail('tags may not have "xmlns" as prefix.');
    return this.fail(`unbound namespace prefix: ${JSON.stringify(prefix)}.`);
  }

  private checkAttributes(s: Scope): void {
    const pf = this.prefixed;
    for (let k = 0; k < pf.length; k++) {
      const a = pf[k]!;
      const c = a.indexOf(':');
      if (s[a.slice(0, c)] === undefined) this.fail(`unbound namespace prefix: ${JSON.stringify(a.slice(0, c))}.`);
    }
    // Two prefixed attributes with one expanded name (different prefixes, same URI) are an error. Compare local
    // parts pairwise without allocating (elements carry a handful of attributes); build names only on a match.
    for (let i = 1; i < pf.length; i++) {
      const a = pf[i]!;
      const ca = a.indexOf(':');
      for (let j = 0; j < i; j++) {
        const b = pf[j]!;
        const cb = b.indexOf(':');
        if (a.length - ca !== b.length - cb || !a.endsWith(b.slice(cb))) continue;
        if (s[a.slice(0, ca)] === s[b.slice(0, cb)]) this.fail(`duplicate attribute: {${s[a.slice(0, ca)]}}${a.slice(ca + 1)}.`);
      }
    }
    this.prefixed = [];
  }

  close(): void {
    this.scope = this.scopes.pop() ?? ROOT_SCOPE;
    this.def = this.defs.pop() ?? '';
  }

  attrUri(name: string): string {
    const c = name.indexOf(':');
    if (c < 0) return name === 'xmlns' ? XMLNS_NS : '';
    const prefix = name.slice(0, c);
    return prefix === 'xmlns' ? XMLNS_NS : this.scope[prefix]!;
  }

  private pairCheck(prefix: string, uri: string): void {
    if (prefix === 'xml' && uri !== XML_NS) this.fail(`xml prefix must be bound to ${XML_NS}.`);
    if (prefix === 'xmlns') this.fail(`xmlns prefix must be bound to ${XMLNS_NS}.`);
    if (uri === XMLNS_NS) this.fail(prefix === '' ? `the default namespace may not be set to ${uri}.` : `may not assign a prefix (even "xmlns") to the URI ${XMLNS_NS}.`);
    if (uri === XML_NS && prefix !== 'xml') this.fail(prefix === '' ? `the default namespace may not be set to ${uri}.` : 'may not assign the xml namespace to another prefix.');
  }
}

/** A plain-mode parser with PlainNs attached; `onOpen` sees the resolved element. */
export function plainNsParser(onOpen?: (tag: SaxesTagPlain, ns: PlainNs) => void): { parser: SaxesParser; ns: PlainNs } {
  const parser = new SaxesParser({});
  const ns = new PlainNs((msg) => {
    throw new Error(`${parser.line}:${parser.column}: ${msg}`);
  });
  parser.on('attribute', ns.attribute);
  parser.on('opentag', (t) => {
    ns.open(t);
    onOpen?.(t, ns);
  });
  parser.on('closetag', () => ns.close());
  return { parser, ns };
}

type Ev = string;

function eventsXmlns(text: string): Ev[] {
  const out: Ev[] = [];
  const p = new SaxesParser({ xmlns: true });
  p.on('opentag', (t) => {
    const attrs = Object.values(t.attributes).map((a) => `${a.uri}|${a.local}=${a.value}`).sort();
    out.push(`${t.uri}|${t.local} ${attrs.join(' ')}`);
  });
  p.write(text).close();
  return out;
}

function eventsPlain(text: string): Ev[] {
  const out: Ev[] = [];
  const { parser } = plainNsParser((t, ns) => {
    const attrs = Object.entries(t.attributes).map(([n, v]) => `${ns.attrUri(n)}|${n.includes(':') ? n.slice(n.indexOf(':') + 1) : n}=${v}`).sort();
    out.push(`${ns.uri}|${ns.local} ${attrs.join(' ')}`);
  });
  parser.write(text).close();
  return out;
}

const BAD: Array<[string, string]> = [
  ['unbound element prefix', '<a><p:b/></a>'],
  ['unbound attribute prefix', '<a p:x="1"/>'],
  ['undeclaring a prefix', '<a xmlns:p="http://x"><b xmlns:p=""/></a>'],
  ['duplicate expanded attribute', '<a xmlns:p="http://x" xmlns:q="http://x" p:z="1" q:z="2"/>'],
  ['xml prefix rebound', '<a xmlns:xml="http://x"/>'],
  ['xmlns prefix declared', '<a xmlns:xmlns="http://x"/>'],
  ['prefix bound to the xmlns URI', `<a xmlns:p="${XMLNS_NS}"/>`],
  ['default bound to the xml URI', `<a xmlns="${XML_NS}"/>`],
  ['element with xmlns prefix', '<xmlns:a/>'],
  ['two colons', '<a xmlns:p="http://x"><p:b:c/></a>'],
  ['empty local part', '<a xmlns:p="http://x"><p:/></a>'],
  ['prefix out of scope', '<a><b xmlns:p="http://x"/><p:c/></a>'],
];
const GOOD = [
  '<a xmlns="http://d"><b xmlns=""><c/></b></a>',
  `<a xml:lang="fr" xmlns:xml="${XML_NS}"/>`,
  '<a xmlns:p="http://x" xmlns:q="http://y" p:z="1" q:z="2"/>',
  '<p:a xmlns:p="http://x"><p:b xmlns:p="http://y" p:c="1"/></p:a>',
];

function verify(): void {
  let elements = 0;
  for (let style = 0; style < PAGE_STYLE_COUNT; style++) {
    const o = resolveFeedOptions({ count: 600, pageSize: 200, seed: 3 });
    const text = [...pageTexts(o, style)].join('');
    const a = eventsXmlns(text);
    const b = eventsPlain(text);
    if (a.length !== b.length) throw new Error(`page style ${style}: ${a.length} vs ${b.length} elements`);
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) throw new Error(`page style ${style}, element ${k}:\n  xmlns: ${a[k]}\n  plain: ${b[k]}`);
    elements += a.length;
  }
  for (const g of GOOD) {
    if (JSON.stringify(eventsXmlns(g)) !== JSON.stringify(eventsPlain(g))) throw new Error(`differs on ${g}`);
  }
  for (const [what, doc] of BAD) {
    let xmlnsErr = '';
    let plainErr = '';
    try {
      eventsXmlns(doc);
    } catch (e) {
      xmlnsErr = (e as Error).message;
    }
    try {
      eventsPlain(doc);
    } catch (e) {
      plainErr = (e as Error).message;
    }
    if (!xmlnsErr || !plainErr) throw new Error(`${what}: xmlns ${xmlnsErr ? 'rejects' : 'accepts'}, plain+PlainNs ${plainErr ? 'rejects' : 'accepts'} ${doc}`);
  }
  process.stdout.write(`verify: ${elements} elements resolved identically over ${PAGE_STYLE_COUNT} page styles; ${GOOD.length} good and ${BAD.length} bad documents judged alike\n`);
}

function child(mode: string, file: string): void {
  const all = readFileSync(file);
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) chunks.push(all.subarray(i, i + 65536));
  const c0 = process.cpuUsage();
  let n = 0;
  const rounds = 3;
  for (let k = 0; k < rounds; k++) {
    let p: SaxesParser<{ xmlns: true }> | SaxesParser;
    if (mode === 'xmlns') {
      const x = new SaxesParser({ xmlns: true });
      x.on('opentag', () => {
        n++;
      });
      p = x;
    } else {
      p = plainNsParser(() => {
        n++;
      }).parser;
    }
    const d = new TextDecoder('utf-8', { fatal: true });
    for (const c of chunks) p.write(d.decode(c, { stream: true }));
    p.close();
  }
  const cu = process.cpuUsage(c0);
  process.stdout.write(`${JSON.stringify({ mode, cpu: (cu.user + cu.system) / 1e6, mb: (rounds * all.length) / 1e6, n })}\n`);
}

function speed(): void {
  const dir = mkdtempSync(join(tmpdir(), 'sdata-ns-'));
  try {
    const o = resolveFeedOptions({ count: 40_000, seed: 1 });
    const file = join(dir, 'feed.xml');
    writeFileSync(file, [...pageTexts(o, 0)].join(''));
    const me = fileURLToPath(import.meta.url);
    const res: Record<string, number[]> = { xmlns: [], plain: [] };
    for (let r = 0; r < 5; r++) {
      for (const mode of r % 2 ? ['plain', 'xmlns'] : ['xmlns', 'plain']) {
        const out = spawnSync(process.execPath, [me, 'child', mode, file], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(out.stderr);
        const j = JSON.parse(out.stdout) as { cpu: number; mb: number };
        res[mode]!.push(j.mb / j.cpu);
      }
    }
    const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
    const x = med(res['xmlns']!);
    const p = med(res['plain']!);
    process.stdout.write(`saxes xmlns mode        ${x.toFixed(1)} MB per CPU-second (median of 5 processes)\n`);
    process.stdout.write(`saxes plain + PlainNs   ${p.toFixed(1)} MB per CPU-second  (${((p / x - 1) * 100).toFixed(0)}%)\n`);
    process.stdout.write(`${JSON.stringify({ bench: 'ns-plain', xmlnsMBps: +x.toFixed(1), plainNsMBps: +p.toFixed(1), gain: +(p / x).toFixed(2) })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [cmd, a1, a2] = process.argv.slice(2);
if (cmd === 'child') child(a1!, a2!);
else if (cmd === 'verify') verify();
else {
  verify();
  speed();
}
