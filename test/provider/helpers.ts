import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaxesParser } from 'saxes';
import { NS } from '../../src/protocol/namespaces.ts';
import { startProvider, type ProviderOptions, type RunningProvider } from '../../src/provider/http/server.ts';
import { Store } from '../../src/provider/store/store.ts';
import { tickKey } from '../../src/provider/store/tick-key.ts';
import { until } from '../helpers/until.ts';

/** A namespace-resolved element tree built by saxes (a real XML parser), for asserting on responses. */
export interface El {
  uri: string;
  local: string;
  attrs: Map<string, string>;
  children: El[];
  text: string;
}

export function parseXml(xml: string): El {
  const p = new SaxesParser({ xmlns: true });
  const stack: El[] = [];
  let root: El | undefined;
  p.on('opentag', (t) => {
    const attrs = new Map<string, string>();
    for (const k in t.attributes) {
      const a = t.attributes[k]!;
      attrs.set(a.uri ? `{${a.uri}}${a.local}` : a.local, a.value);
    }
    const el: El = { uri: t.uri, local: t.local, attrs, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else root = el;
    stack.push(el);
  });
  p.on('text', (t) => {
    if (stack.length > 0) stack[stack.length - 1]!.text += t;
  });
  p.on('cdata', (t) => {
    if (stack.length > 0) stack[stack.length - 1]!.text += t;
  });
  p.on('closetag', () => {
    stack.pop();
  });
  p.write(xml).close();
  return root!;
}

export function kids(e: El | undefined, uri: string, local: string): El[] {
  return e ? e.children.filter((c) => c.uri === uri && c.local === local) : [];
}

export function kid(e: El | undefined, uri: string, local: string): El | undefined {
  return kids(e, uri, local)[0];
}

export function textOf(e: El | undefined, uri: string, local: string): string | undefined {
  return kid(e, uri, local)?.text.trim();
}

/** Digest of an entry/feed element tree: normalised endpoint → [tick, priority]. */
export function digestOf(doc: El): Map<string, [string, number]> {
  let d = kid(doc, NS.sync, 'digest');
  if (!d) d = kid(kid(doc, NS.sdata, 'payload'), NS.sync, 'digest');
  assert.ok(d, 'no sync:digest');
  const out = new Map<string, [string, number]>();
  for (const e of kids(d, NS.sync, 'digestEntry')) {
    out.set(textOf(e, NS.sync, 'endpoint')!, [textOf(e, NS.sync, 'tick')!, Number(textOf(e, NS.sync, 'conflictPriority'))]);
  }
  return out;
}

export function ticksOf(doc: El): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [ep, [tick]] of digestOf(doc)) out[ep] = tick;
  return out;
}

export interface ResultInfo {
  id: string;
  status: number;
  method: string | undefined;
  codes: string[];
  payload: El | undefined;
  etag: string | undefined;
  state: { endpoint: string; tick: string } | undefined;
}

export function resultsOf(feed: El): ResultInfo[] {
  return kids(feed, NS.atom, 'entry').map((e) => {
    const st = kid(e, NS.sync, 'syncState');
    return {
      id: textOf(e, NS.atom, 'id') ?? '',
      status: Number(textOf(e, NS.http, 'httpStatus')),
      method: textOf(e, NS.http, 'httpMethod'),
      codes: kids(e, NS.sdata, 'diagnosis').map((d) => textOf(d, NS.sdata, 'applicationCode') ?? ''),
      payload: kid(e, NS.sdata, 'payload')?.children[0],
      etag: textOf(e, NS.http, 'etag'),
      state: st ? { endpoint: textOf(st, NS.sync, 'endpoint')!, tick: textOf(st, NS.sync, 'tick')! } : undefined,
    };
  });
}

/** Every result entry of a context, following the result feed's next links. */
export async function allResults(url: string): Promise<ResultInfo[]> {
  const out: ResultInfo[] = [];
  let res = await pollUntilDone(url);
  for (;;) {
    assert.equal(res.status, 200, res.text);
    const f = parseXml(res.text);
    out.push(...resultsOf(f));
    const next = linkOf(f, 'next');
    if (!next) return out;
    res = await get(next);
  }
}

export function linkOf(feed: El, rel: string): string | undefined {
  return kids(feed, NS.atom, 'link').find((l) => l.attrs.get('rel') === rel)?.attrs.get('href');
}

// -----------------------------------------------------------------------------------------------------------------
// HTTP

export interface Res {
  status: number;
  headers: Headers;
  text: string;
}

export async function http(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<Res> {
  const r = await fetch(url, { method, ...(body === undefined ? {} : { body }), headers });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

export const get = (url: string): Promise<Res> => http('GET', url);
export const post = (url: string, body: string, headers: Record<string, string> = {}): Promise<Res> => http('POST', url, body, headers);

/**
 * A POST whose body goes in two halves, the second once `between` settles: meanwhile the provider holds the context
 * applying, waiting for the rest. If `between` fails, the request is dropped and its failure is this one's.
 */
export async function postInHalves(url: string, body: string | Buffer, between: Promise<unknown>): Promise<Res> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const half = bytes.length >> 1;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/atom+xml; type=feed', 'content-length': String(bytes.length) } }, resolve);
    req.on('error', reject);
    req.write(bytes.subarray(0, half));
    between.then(() => req.end(bytes.subarray(half)), (e: unknown) => {
      req.destroy();
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
  let text = '';
  for await (const c of res) text += String(c);
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, x);
  return { status: res.statusCode!, headers, text };
}

/** The message of the first diagnosis of an error body. */
export function diagnosisMessage(text: string): string {
  return firstDiagnosis(text).message;
}

/** The first diagnosis of an error body: severity, applicationCode ('' if none), message. */
export function firstDiagnosis(text: string): { severity: string; code: string; message: string } {
  const d = parseXml(text);
  assert.equal(d.local, 'diagnoses', `expected sdata:diagnoses, got ${d.local}`);
  const first = kid(d, NS.sdata, 'diagnosis');
  return { severity: textOf(first, NS.sdata, 'severity') ?? '', code: textOf(first, NS.sdata, 'applicationCode') ?? '', message: textOf(first, NS.sdata, 'message') ?? '' };
}

export async function pollUntilDone(url: string): Promise<Res> {
  let r: Res | undefined;
  await until(async () => (r = await get(url)).status !== 202, { what: `${url} to answer other than 202`, everyMs: 10 });
  return r!;
}

// -----------------------------------------------------------------------------------------------------------------
// Stores and providers

export interface TestDir {
  dir: string;
  db(name: string): string;
  cleanup(): void;
}

export function testDir(): TestDir {
  const dir = mkdtempSync(join(tmpdir(), 'sdata-provider-'));
  return { dir, db: (n) => join(dir, `${n}.db`), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SetupResource {
  uuid: string;
  endpoint: string;
  tick: string | number;
  stamp?: string;
  deleted?: boolean;
  name?: string;
}

export interface SetupStore {
  app: string;
  contract?: string;
  endpointBase?: string;
  kind?: string;
  digest: Array<[endpoint: string, tick: string | number, prio: number]>;
  resources?: SetupResource[];
}

export const CONTRACT = 'http://schemas.sage.com/myContract';

export function resourceXml(uuid: string, name: string, deleted = false): string {
  return deleted
    ? `<account xmlns="${CONTRACT}" xmlns:sdata="${NS.sdata}" sdata:uuid="${uuid}" sdata:isDeleted="true"/>`
    : `<account xmlns="${CONTRACT}" xmlns:sdata="${NS.sdata}" sdata:uuid="${uuid}"><name>${name}</name></account>`;
}

/**
 * Writes an exact store state (digest and resources with given syncStates) before a provider opens it. The
 * resources go through the store; the digest is written to the file as given, beneath the store's rules (its own
 * tick may lag its resources here: spec examples start from such states).
 */
export function setupStore(path: string, s: SetupStore): void {
  const store = new Store({ db: path, app: s.app, contract: s.contract ?? 'myContract', kinds: [s.kind ?? 'accounts'], ...(s.endpointBase ? { endpointBase: s.endpointBase } : {}) });
  let kind: number;
  const eps = new Map<string, number>();
  try {
    const k = store.kind(s.kind ?? 'accounts')!;
    kind = k.id;
    store.tx((w) => {
      for (const r of s.resources ?? []) {
        w.resources.insert(k.id, r.uuid, r.deleted ?? false, store.endpointId(r.endpoint), String(r.tick), r.stamp ?? '2008-10-30T12:00:00.000Z', null,
          resourceXml(r.uuid, r.name ?? r.uuid, r.deleted ?? false));
      }
      for (const [ep] of s.digest) eps.set(ep, store.endpointId(ep));
    });
  } finally {
    store.close();
  }
  const db = new DatabaseSync(path);
  try {
    db.exec('BEGIN');
    db.prepare('DELETE FROM digest WHERE kind = ?').run(kind);
    for (const [ep, tick, prio] of s.digest) {
      db.prepare('INSERT INTO digest(kind, ep, tick, stamp, prio) VALUES(?, ?, ?, ?, ?)').run(kind, eps.get(ep)!, tickKey(String(tick)), '2008-10-30T12:00:00.000Z', prio);
    }
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}


export async function provider(dir: TestDir, name: string, o: Partial<ProviderOptions> = {}): Promise<RunningProvider> {
  return startProvider({ db: dir.db(name), ...o });
}

/** A bare `$syncDigest` entry for PUT/POST bodies. */
export function digestEntryXml(entries: Array<[endpoint: string, tick: string | number, prio: number]>): string {
  let s = `<entry xmlns="${NS.atom}"><id>urn:x</id><title/><updated>2020-01-01T00:00:00Z</updated><payload xmlns="${NS.sdata}"><digest xmlns="${NS.sync}">`;
  for (const [ep, tick, prio] of entries) {
    s += `<digestEntry><endpoint>${ep}</endpoint><tick>${tick}</tick><stamp>2020-01-01T00:00:00Z</stamp><conflictPriority>${prio}</conflictPriority></digestEntry>`;
  }
  return `${s}</digest></payload></entry>`;
}

// -----------------------------------------------------------------------------------------------------------------
// A minimal engine: one catch-up pass from a source provider to a target provider over HTTP.

export interface PassStats {
  entries: number;
  pages: number;
  statuses: Map<number, number>;
  methods: Map<string, number>;
  codes: Map<string, number>;
}

let passCounter = 0;

export async function syncPass(source: string, target: string, kind = 'accounts'): Promise<PassStats> {
  const stats: PassStats = { entries: 0, pages: 0, statuses: new Map(), methods: new Map(), codes: new Map() };
  const n = ++passCounter;
  const digest = await get(`${target}/${kind}/$syncDigest`);
  assert.equal(digest.status, 200);
  const started = await post(`${source}/${kind}/$syncSource?trackingID=src-${n}&runName=test&runStamp=2020-01-01T00:00:00`, digest.text);
  assert.equal(started.status, 202, started.text);
  const ctx = started.headers.get('location')!;
  let page = await pollUntilDone(ctx);
  for (let p = 1; ; p++) {
    assert.equal(page.status, 200, page.text);
    stats.pages++;
    const feed = parseXml(page.text);
    const applied = await post(`${target}/${kind}/$syncTarget?trackingID=tgt-${n}-${p}`, page.text);
    assert.equal(applied.status, 202, applied.text);
    const loc = applied.headers.get('location')!;
    let results = await pollUntilDone(loc);
    for (;;) {
      assert.equal(results.status, 200, results.text);
      const rf = parseXml(results.text);
      for (const r of resultsOf(rf)) {
        stats.entries++;
        stats.statuses.set(r.status, (stats.statuses.get(r.status) ?? 0) + 1);
        if (r.method) stats.methods.set(r.method, (stats.methods.get(r.method) ?? 0) + 1);
        for (const c of r.codes) stats.codes.set(c, (stats.codes.get(c) ?? 0) + 1);
      }
      const more = linkOf(rf, 'next');
      if (!more) break;
      results = await get(more);
    }
    assert.equal((await http('DELETE', loc)).status, 200);
    const next = linkOf(feed, 'next');
    if (!next) break;
    page = await get(next);
  }
  assert.equal((await http('DELETE', ctx)).status, 200);
  return stats;
}
