import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The independent SData peer (test/peer/sdata_peer.py): a sync source and target written in Python from the protocol
 * spec (as docs/protocol.md explains it), parsing with expat, sharing no code with src/. This module starts and stops it and wraps its test API.
 */

export const PEER_SCRIPT = fileURLToPath(new URL('../peer/sdata_peer.py', import.meta.url));

export interface PeerKindConfig {
  name: string;
  syncOrder?: number;
  conflictPriority?: number;
  /** Local name of the resource element (default: the kind without its final s). */
  element?: string;
  isSyncSource?: boolean;
  isSyncTarget?: boolean;
}

export interface PeerMisbehave {
  resultNoStatus: boolean;
  resultNoMethod: boolean;
  /** -1: one result fewer than the posted entries; +1: one more. */
  resultCountDelta: number;
  /** A next source page answers 202 with a new Location, and the page is served there. */
  nextPage202: boolean;
  trackingNeverFinishes: boolean;
  /** The next N protocol requests get 503 + Retry-After. */
  unavailable: number;
  retryAfter: number;
  etagHeader: 'quoted' | 'unquoted' | 'none';
}

/** Run-time switches (POST $peer/config). */
export interface PeerSwitches {
  pageSize: number;
  resultPageSize: number;
  /** $syncSource / $syncTarget POSTs with a trackingID answer 202 + Location; false: 200 at once (core 11.5 allows it). */
  asyncSource: boolean;
  asyncTarget: boolean;
  /** 202 answers to the first GETs of a context. */
  polls: number;
  pollingMillis: number;
  indexedPaging: boolean;
  /** Requests with protocol violations get 400 + diagnoses (they are recorded either way). */
  strict: boolean;
  misbehave: Partial<PeerMisbehave>;
}

export interface PeerConfig extends Partial<PeerSwitches> {
  app?: string;
  contract?: string;
  dataset?: string;
  contractNamespace?: string;
  /** Identity base in digests and syncStates (default http://localhost/sdata/{app}/{contract}/{dataset}). */
  endpointBase?: string;
  kinds?: PeerKindConfig[];
}

export interface PeerSyncState {
  endpoint: string;
  /** Ticks travel as decimal strings: they can exceed 2^53. */
  tick: string;
  stamp: string;
  user?: string;
}

export interface PeerResource {
  uuid: string;
  deleted: boolean;
  state: PeerSyncState;
  payload?: string;
  /** Canonical XML 2.0 of the payload (prefixes rewritten, sdata:key/url dropped, uuids lower-cased). */
  canonical?: string;
}

export interface PeerDigestEntry {
  endpoint: string;
  tick: string;
  stamp: string;
  conflictPriority: number | null;
}

export interface PeerRequest {
  i: number;
  method: string;
  /** Path and query as received. */
  path: string;
  status: number | null;
  contentType: string | null;
  kind?: string;
  op?: string;
  trackingID?: string | null;
  runName?: string | null;
  runStamp?: string | null;
  /** $syncTarget POSTs: entry count, atom:id and links of the posted feed. */
  entries?: number;
  feedId?: string | null;
  links?: Record<string, string>;
  violations: string[];
  notes: Array<{ code: string; message: string }>;
}

export interface PeerViolation {
  request: number;
  method: string;
  path: string;
  code: string;
  message: string;
}

export interface PeerContext {
  type: 'source' | 'target';
  kind: string;
  id: string;
  url: string;
  needsDelete: boolean;
  deleted: boolean;
  deletes: number;
  createdBy: number;
}

export interface PeerState {
  base: string;
  endpointBase: string;
  kinds: Record<string, { endpoint: string; resources: PeerResource[]; digest: PeerDigestEntry[] }>;
  contexts: PeerContext[];
  /** Contexts a consumer was given a Location for and never DELETEd. */
  openContexts: PeerContext[];
  log: PeerRequest[];
  violations: PeerViolation[];
  syncResults: Array<{ kind: string; runName: string | null; runStamp: string | null; entries: number; statuses: Array<string | null> }>;
  config: PeerConfig;
}

export interface LoadSpec {
  kind?: string;
  /** Replaces the kind's digest. */
  digest?: Array<{ endpoint: string; tick: string | number; conflictPriority: number; stamp?: string }>;
  resources?: Array<{ uuid: string; state: { endpoint: string; tick: string | number; stamp?: string }; deleted?: boolean; payload?: string; name?: string }>;
}

/** A resource as any provider's sync feed shows it, canonicalised by the peer (POST $peer/canon). */
export interface CanonEntry {
  uuid: string | null;
  deleted: boolean;
  state: PeerSyncState | null;
  canonical?: string;
  error?: string;
}

export interface Peer {
  /** Dataset base, http://127.0.0.1:PORT/sdata/{app}/{contract}/{dataset}: what `run --source/--target` takes. */
  readonly url: string;
  readonly endpointBase: string;
  readonly pid: number;
  /** Identity URL of a kind (what digests and syncStates name). */
  endpoint(kind: string): string;
  reset(): Promise<void>;
  config(patch: PeerConfig): Promise<PeerConfig>;
  load(spec: LoadSpec): Promise<void>;
  /** A local change, stamped with the peer's next tick. */
  edit(spec: { kind?: string; uuid: string; name?: string; payload?: string; deleted?: boolean }): Promise<PeerResource>;
  state(): Promise<PeerState>;
  canon(feedXml: string): Promise<{ entries: CanonEntry[]; next: string | null }>;
  /** SIGTERM, then SIGKILL if it has not exited within the bound. Resolves to the exit code (null if killed). */
  stop(): Promise<number | null>;
}

const READY_MS = 10_000;
const STOP_MS = 3_000;

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((res) => child.once('exit', () => res()));
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function admin<T>(url: string, body?: unknown): Promise<T> {
  const init: RequestInit = body === undefined ? {} : { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) };
  const r = await fetch(url, init);
  const text = await r.text();
  if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Starts a peer on an ephemeral 127.0.0.1 port and waits (bounded) for its ready line. */
export async function startPeer(config: PeerConfig = {}): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'sdata-peer-'));
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const child = spawn('python3', ['-B', PEER_SCRIPT, '--port', '0', '--config', cfgFile, '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ready = new Promise<{ url: string; endpointBase: string; pid: number }>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as { url: string; endpointBase: string; pid: number });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sdata-peer exited (${code}) before it was ready: ${stderr}`)));
  });
  let info: Awaited<typeof ready> | 'timeout';
  try {
    info = await bounded(ready, READY_MS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (info === 'timeout') {
    child.kill('SIGKILL');
    throw new Error(`sdata-peer not ready within ${READY_MS} ms: ${stderr}`);
  }
  const { url, endpointBase, pid } = info;
  const api = `${url}/$peer`;
  return {
    url,
    endpointBase,
    pid,
    endpoint: (kind) => `${endpointBase}/${kind}`,
    reset: async () => void (await admin(`${api}/reset`, {})),
    config: (patch) => admin(`${api}/config`, patch),
    load: async (spec) => void (await admin(`${api}/load`, spec)),
    edit: (spec) => admin(`${api}/edit`, spec),
    state: () => admin(`${api}/state`),
    canon: (feedXml) => admin(`${api}/canon`, feedXml),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      if ((await bounded(exited(child), STOP_MS)) === 'timeout') {
        child.kill('SIGKILL');
        await bounded(exited(child), STOP_MS);
      }
      if (stderr.trim()) process.stderr.write(`sdata-peer ${pid} stderr:\n${stderr}`);
      return child.exitCode;
    },
  };
}

/** The resources of a kind as uuid → { deleted, state, canonical payload }, the form convergence compares. */
export type ResourceMap = Map<string, { deleted: boolean; state: PeerSyncState; canonical: string | undefined }>;

export function peerResources(state: PeerState, kind: string): ResourceMap {
  const m: ResourceMap = new Map();
  for (const r of state.kinds[kind]!.resources) m.set(r.uuid.toLowerCase(), { deleted: r.deleted, state: r.state, canonical: r.canonical });
  return m;
}

const EMPTY_DIGEST_ENTRY = `<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:peer-test:empty-digest</id><title/><updated>2020-01-01T00:00:00Z</updated>
<payload xmlns="http://schemas.sage.com/sdata/2008/1"><digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"/></payload></entry>`;

/**
 * Every resource (tombstones included) of any provider's kind, read through the protocol itself: a $syncSource
 * pass against an empty digest (docs/protocol.md §3.2: an endpoint the target lacks selects everything), each page
 * canonicalised by the peer, the context DELETEd. Polls are bounded.
 */
export async function providerResources(collection: string, peer: Peer): Promise<ResourceMap> {
  const started = await fetch(`${collection}/$syncSource?trackingID=dump-${Date.now()}-${Math.random()}&runName=peer-test&runStamp=2020-01-01T00:00:00Z`, {
    method: 'POST',
    headers: { 'content-type': 'application/atom+xml; type=entry' },
    body: EMPTY_DIGEST_ENTRY,
  });
  await started.text();
  if (started.status !== 202) throw new Error(`$syncSource dump: ${started.status}`);
  const ctx = started.headers.get('location')!;
  const m: ResourceMap = new Map();
  try {
    let url: string | null = ctx;
    for (let polls = 0; url !== null; ) {
      const r = await fetch(url);
      const text = await r.text();
      if (r.status === 202) {
        if (++polls > 500) throw new Error(`${url}: still 202 after ${polls} polls`);
        await new Promise((res) => setTimeout(res, 2));
        continue;
      }
      if (r.status !== 200) throw new Error(`${url}: ${r.status} ${text}`);
      const page = await peer.canon(text);
      for (const e of page.entries) {
        if (e.error || !e.uuid || !e.state) throw new Error(`${url}: an invalid entry in the dump: ${e.error}`);
        m.set(e.uuid.toLowerCase(), { deleted: e.deleted, state: e.state, canonical: e.canonical });
      }
      url = page.next;
    }
  } finally {
    await (await fetch(ctx, { method: 'DELETE' })).text();
  }
  return m;
}
