import { createHash } from 'node:crypto';
import type { Diagnosis } from '../../protocol/diagnosis.ts';
import { digestKey } from '../../protocol/digest.ts';
import { normalizeEndpoint } from '../../protocol/endpoint.ts';
import { SdataError } from '../../protocol/errors.ts';
import type { SyncMode, SyncState } from '../../protocol/sync-state.ts';
import { maxTick, nextTick, tickLess, type Tick } from '../../protocol/ticks.ts';
import type { EntryRecord, FeedHead, FeedTail } from '../../xml/feed-types.ts';
import { mergeChildLists } from '../payload/child-lists.ts';
import { scanRootTag, tombstoneFragment } from '../payload/fragment.ts';
import { withRootUuid } from '../payload/link-attrs.ts';
import { MAX_TICK_DIGITS, type KindInfo, type Payload, type ResourceState, type ResultWriter, type StoreWriter, type SyncStore } from '../store/repositories.ts';
import type { BodyApplier } from './body-applier.ts';
import { decide, type DigestLookup, type Verdict } from './conflict-rules.ts';
import { etagOf } from './etag.ts';
import { fragmentText, fragmentUtf8, toIncoming, type Incoming } from './incoming.ts';
import { compactResult, resultEntryXml, stateXml, type ResultEntry } from './result-entry.ts';

/**
 * The target side of a sync pass (spec 5.3–5.5, 5.8; docs/protocol.md §3.4–§3.9): a FeedHandler that applies a posted page
 * entry by entry as the reader produces them, and writes one result entry per input entry (its ResultWriter).
 *
 * Transactions belong to the caller: it wraps each `reader.push(chunk)` (and `reader.end()`) in `store.tx()`, calling
 * begin(w) first and flush() last, so every entry's data, result row and digest update commit together and no
 * transaction spans an await.
 *
 * catchUp: entries are applied as they arrive; the end-of-feed merge runs on a page without `next`.
 * immediate: entries are staged (StagedEntries) while the contiguity check runs over the whole page; a gap makes
 * `end()` throw a 400 and nothing is applied (the caller drops the staged rows); otherwise `end()` applies them.
 */

export interface ApplyStats {
  entries: number;
  created: number;
  updated: number;
  deleted: number;
  ignored: number;
  conflicts: number;
  targetWon: number;
  failed: number;
}

export interface TargetApplierOptions {
  store: SyncStore;
  kind: KindInfo;
  /** Context whose result rows this page fills. */
  ctx: number;
  /** Serving URL of the collection (http:location, link self); atom:ids use the identity URL. */
  servingCollection: string;
  /** Where the body came from, for messages. */
  source: string;
}

class SourceDigest implements DigestLookup {
  readonly rows = new Map<number, { tick: Tick; prio: number }>();
  get(ep: number): { tick: Tick; prio: number } | undefined {
    return this.rows.get(ep);
  }
}

export class TargetApplier implements BodyApplier {
  readonly stats: ApplyStats = { entries: 0, created: 0, updated: 0, deleted: 0, ignored: 0, conflicts: 0, targetWon: 0, failed: 0 };
  mode: SyncMode | undefined;
  /** Set by end(): whether this page was the last of a catchUp pass (the digest merge ran). */
  merged = false;

  private readonly store: SyncStore;
  private readonly kind: KindInfo;
  private readonly ctx: number;
  private readonly serving: string;
  private readonly identity: string;
  private readonly source: string;
  private readonly src = new SourceDigest();
  private readonly tgt: DigestLookup;
  /** Normalised URL of an endpoint id (the conflict rules' last tie-break). */
  private readonly normOf: (ep: number) => string;
  /** The open transaction's writer (begin()). */
  private w!: StoreWriter;
  private passKey = '';
  /** Lowest failed tick per endpoint in this pass: the digest never moves past it. */
  private readonly failures = new Map<number, Tick>();
  private expected: Map<number, Tick> | undefined;
  /** Newer conflictPriorities the source digest brings (head()), taken with the page's entries. */
  private readonly priorities: Array<[ep: number, prio: number]> = [];
  private gap: string | undefined;
  /** Whether the last entry applied created its resource (applyValid: insert first, look up only if it exists). */
  private creating = false;
  private now = new Date().toISOString();

  private readonly results: ResultWriter;

  constructor(o: TargetApplierOptions) {
    this.store = o.store;
    this.kind = o.kind;
    this.ctx = o.ctx;
    this.serving = o.servingCollection;
    this.identity = o.kind.selfUrl;
    this.source = o.source;
    // Looked up through the store each time: a rollback elsewhere replaces the cached digest maps.
    const store = this.store;
    const kindId = o.kind.id;
    this.tgt = { get: (ep: number) => store.digest.rows(kindId).get(ep) };
    this.normOf = (ep: number) => store.endpoint(ep).norm;
    this.results = store.results.writer(o.ctx);
  }

  /** Call first inside each transaction: its writer, and the stamp for result `updated` elements. */
  begin(w: StoreWriter): void {
    this.w = w;
    this.now = new Date().toISOString();
  }

  /** Writes this transaction's result entries (call last, inside the transaction). */
  flush(): void {
    this.results.flush();
  }

  /** After a rolled-back transaction: forget its result entries. */
  discard(): void {
    this.results.discard();
  }

  head(h: FeedHead): void {
    // The reader (requireSyncHead) has already refused feeds without syncMode or digest.
    this.mode = h.syncMode!;
    const d = h.digest!;
    const stored = this.store.digest.rows(this.kind.id);
    const origin = d.origin === undefined ? undefined : normalizeEndpoint(d.origin);
    for (const [norm, e] of d.entries) {
      checkTickSize(e.tick, `sync:digest entry for ${e.endpoint}`, this.source);
      const ep = this.store.endpointId(e.endpoint);
      this.src.rows.set(ep, { tick: e.tick, prio: e.conflictPriority });
      // Dynamic priorities (spec 2.3; docs/protocol.md §3.7): take a recorded endpoint's priority from the source's
      // digest when the source speaks for itself (the digest's origin), or knows later changes from that endpoint
      // than this target does; a stale digest (a slow peer) never undoes a newer priority. Our own is ours to set.
      const t = stored.get(ep);
      if (t !== undefined && t.prio !== e.conflictPriority && ep !== this.kind.selfEp && (norm === origin || tickLess(t.tick, e.tick))) {
        this.priorities.push([ep, e.conflictPriority]);
      }
    }
    // An immediate page takes them with its entries, once its contiguity check has passed (end()).
    if (this.mode === 'catchUp') this.takePriorities();
    // Pages of one pass carry the same source digest (the source snapshots it): that groups them.
    this.passKey = createHash('sha1').update(`${this.mode}\u0003${digestKey(d)}`).digest('base64');
    for (const f of this.w.failures.lowest(this.kind.id, this.passKey)) this.failures.set(f.ep, f.tick);
    if (this.mode === 'immediate') {
      this.expected = new Map();
      for (const [ep, r] of this.store.digest.rows(this.kind.id)) this.expected.set(ep, r.tick);
    }
  }

  entry(rec: EntryRecord, resourceBytes?: Uint8Array): void {
    const inc = toIncoming(rec);
    // An immediate page's entries are staged as JSON, and the bytes are the reader's only during this call.
    if (this.expected === undefined) {
      this.apply(inc, inc.verbatim ? resourceBytes : undefined);
      return;
    }
    if (this.gap !== undefined) return;
    this.checkContiguity(inc);
    if (this.gap === undefined) this.w.staged.add(this.ctx, inc.index, JSON.stringify(inc));
  }

  end(tail: FeedTail): void {
    if (this.expected !== undefined) {
      if (this.gap !== undefined) {
        throw new SdataError('SDATA_E_TARGET_REJECTED', `${this.source}: immediate feed rejected, nothing applied: ${this.gap}`);
      }
      this.takePriorities();
      for (const data of this.w.staged.each(this.ctx)) this.apply(JSON.parse(data) as Incoming);
      this.w.staged.clear(this.ctx);
      return;
    }
    if (this.mode === 'catchUp' && tail.next === undefined) {
      // End of a catchUp feed (docs/protocol.md §3.9 item 2): claim what the source digest says, except where an entry failed.
      const stamp = new Date().toISOString();
      for (const [ep, e] of this.src.rows) {
        if (this.failures.has(ep)) continue;
        this.w.digest.advance(this.kind.id, ep, e.tick, e.prio, stamp);
      }
      this.w.failures.clear(this.kind.id, this.passKey);
      this.merged = true;
    }
  }

  private takePriorities(): void {
    for (const [ep, prio] of this.priorities) this.w.digest.setPriority(this.kind.id, ep, prio);
    this.priorities.length = 0;
  }

  /** Why an immediate page is refused, if it is. */
  get gapReason(): string | undefined {
    return this.gap;
  }

  // -------------------------------------------------------------------------------------------------------------

  private checkContiguity(inc: Incoming): void {
    const st = inc.state;
    if (inc.invalid !== undefined || st === undefined) return; // fails at apply time, like any invalid entry
    const ep = this.store.endpointId(st.endpoint);
    const exp = this.expected!.get(ep);
    if (exp === undefined) {
      this.gap = `entry #${inc.index + 1} (${st.endpoint}, tick ${st.tick}): this target's digest has no entry for ${st.endpoint}; a catch-up pass must come first`;
    } else if (tickLess(exp, st.tick)) {
      this.gap = `entry #${inc.index + 1} (${st.endpoint}, tick ${st.tick}) leaves a gap: this target expects tick ${exp} next from that endpoint`;
    } else {
      this.expected!.set(ep, maxTick(exp, nextTick(st.tick)));
    }
  }

  private result(r: ResultEntry): void {
    this.results.add(resultEntryXml(r));
  }

  private fail(inc: Incoming, status: number, message: string, ep?: number): void {
    this.stats.failed++;
    if (ep !== undefined && inc.state) this.recordFailure(ep, inc.state.tick);
    const where = `${this.source}:${inc.line}:${inc.column}: entry #${inc.index + 1}${inc.atomId ? ` (${inc.atomId})` : ''}`;
    this.result({
      id: inc.atomId || (inc.uuid ? `urn:uuid:${inc.uuid}` : `urn:sdata-sync:entry:${inc.index + 1}`),
      status,
      updated: this.now,
      diagnoses: [{ severity: status >= 500 ? 'transient' : 'error', sdataCode: 'ApplicationDiagnosis', applicationCode: 'SyncEntryFailed', message: `${where}: ${message}` }],
    });
  }

  private recordFailure(ep: number, tick: Tick): void {
    if (tick.length > MAX_TICK_DIGITS) return;
    const had = this.failures.get(ep);
    if (had === undefined || tickLess(tick, had)) this.failures.set(ep, tick);
    this.w.failures.record(this.kind.id, this.passKey, ep, tick);
  }

  /** Per-entry digest rule (5.5), never past a failed entry of this pass for that endpoint. */
  private processed(ep: number, tick: Tick): void {
    let next = nextTick(tick);
    const cap = this.failures.get(ep);
    if (cap !== undefined && tickLess(cap, next)) next = cap;
    this.w.digest.advance(this.kind.id, ep, next, this.src.get(ep)?.prio ?? 9, this.now);
  }

  /** `bytes`: the UTF-8 of `inc.fragment` when the reader had them (FeedHandler.entry), stored as they are. */
  private apply(inc: Incoming, bytes?: Uint8Array): void {
    this.stats.entries++;
    const st = inc.state;
    if (inc.invalid !== undefined || st === undefined) {
      let ep: number | undefined;
      if (st && st.endpoint && st.tick) ep = this.store.endpointId(st.endpoint);
      this.fail(inc, 400, inc.invalid ?? 'no sync:syncState', ep);
      return;
    }
    const ep = this.store.endpointId(st.endpoint);
    try {
      this.applyValid(inc, st, ep, bytes);
    } catch (e) {
      // A store fault (disk full, lock, I/O) is not this entry's: the transaction is over, and so is the request.
      const fault = this.store.fault(e);
      if (fault) throw fault;
      this.fail(inc, 500, `could not be applied: ${(e as Error).message}`, ep);
    }
  }

  private applyValid(inc: Incoming, st: SyncState, ep: number, received: Uint8Array | undefined): void {
    const store = this.store;
    // The payload's UTF-8 when the reader had it: as received, or the fragment built from the received bytes.
    const bytes = received ?? fragmentUtf8(inc);
    const resources = this.w.resources;
    const k = this.kind.id;
    const uuid = inc.uuid!;
    const del = inc.isDeleted || inc.method === 'DELETE';
    const user = st.user ?? null;
    // After an entry that created its resource, the next one most likely creates too (a pass into an empty or
    // lagging kind): it is inserted unless its uuid is known, in one statement, and looked up only if it is. After
    // one that found its resource, it is looked up first. The same rows either way; payloads with child lists to
    // merge are always looked up first (their merge depends on what is stored).
    let created: number | undefined;
    let local: ResourceState | undefined;
    if (this.creating && !inc.lists) {
      created = resources.insertNew(k, uuid, del, ep, st.tick, st.stamp, user, del ? deletionOf(fragmentText(inc), uuid) : bytes ?? fragmentText(inc));
      if (created === undefined) local = resources.stateOf(k, uuid)!;
    } else {
      local = resources.stateOf(k, uuid);
    }
    this.creating = local === undefined;
    // The uuid may be an alias, one the resource held before a re-point (docs/protocol.md §3.11): the entry is
    // about that resource, and its payload is stored under the resource's current uuid, which the source sends.
    // Functions, not values: the fragment in characters is decoded only where it is needed.
    const primary = local?.primary;
    const fragment = (): string => primary === undefined ? fragmentText(inc) : withRootUuid(fragmentText(inc), primary);
    // What a live version stores when no child list is merged: the payload as received, as bytes if the reader had
    // them (SQLite then copies them instead of encoding the string to UTF-8 again).
    const whole = (): Payload => primary === undefined ? bytes ?? fragment() : fragment();
    const diagnoses: Diagnosis[] = [];
    let status: number;
    let method: string | undefined;
    let id: number;
    let deleted: boolean;
    let verdict: Verdict | undefined;
    if (!local) {
      // docs/protocol.md §3.5: unknown uuid. A delete records a tombstone with the incoming state; anything else creates.
      if (del) {
        id = created ?? resources.insert(k, uuid, true, ep, st.tick, st.stamp, user, deletionOf(fragmentText(inc), uuid));
        status = 200;
        method = 'DELETE';
        deleted = true;
        diagnoses.push(info('SyncDeleteUnknown', 'nothing to delete: the resource was not known here; its deletion is recorded'));
        this.stats.deleted++;
      } else {
        id = created ?? resources.insert(k, uuid, false, ep, st.tick, st.stamp, user, inc.lists ? mergeChildLists(undefined, fragmentText(inc)) : whole());
        status = 201;
        method = 'POST';
        deleted = false;
        this.stats.created++;
      }
    } else {
      id = local.id;
      const localTick = local.tick;
      verdict = decide({ ep, tick: st.tick, stamp: st.stamp }, local, this.src, this.tgt, this.normOf);
      if (verdict.conflict) {
        this.stats.conflicts++;
        for (const w of verdict.conflict.warnings) diagnoses.push({ severity: 'warning', sdataCode: 'ApplicationDiagnosis', applicationCode: 'SyncPriorityUnknown', message: w });
      }
      if (verdict.apply) {
        if (del) {
          resources.update(id, true, ep, st.tick, st.stamp, user, deletionOf(fragment(), uuid));
          if (local.deleted) diagnoses.push(info('SyncAlreadyDeleted', 'already deleted here; the deletion state is updated'));
          status = 200;
          method = 'DELETE';
          deleted = true;
          this.stats.deleted++;
        } else {
          // Child lists that are not complete merge with the stored ones (docs/protocol.md §3.3); else the payload is whole.
          const f = inc.lists ? mergeChildLists(local.deleted ? undefined : resources.payloadOf(id), fragment()) : whole();
          resources.update(id, false, ep, st.tick, st.stamp, user, f);
          status = local.deleted ? 201 : 200;
          method = local.deleted ? 'POST' : 'PUT';
          deleted = false;
          if (local.deleted) this.stats.created++;
          else this.stats.updated++;
        }
      } else {
        status = 200;
        deleted = local.deleted;
        if (verdict.conflict) {
          this.stats.targetWon++;
          const c = verdict.conflict;
          diagnoses.push({
            severity: 'warning', sdataCode: 'ApplicationDiagnosis', applicationCode: 'SyncConflictTargetWins',
            message: `conflict (5.4 R4): this target's version (${store.endpoint(local.ep).url}, tick ${localTick}) wins over (${st.endpoint}, tick ${st.tick}) by ${c.by}` +
              (c.by === 'priority' ? ` (${c.tgtPrio} < ${c.srcPrio})` : ''),
          });
        } else {
          this.stats.ignored++;
          diagnoses.push(info('SyncIgnored', verdict.rule === 'R1'
            ? `this target already has this version or a newer one from ${st.endpoint} (tick ${localTick} ≥ ${st.tick})`
            : `this target's digest has already seen ${st.endpoint} tick ${st.tick} (5.4 R3)`));
        }
      }
    }
    this.processed(ep, st.tick);
    // The resulting state: the incoming one if applied, else the stored one.
    const applied = method !== undefined;
    const resEp = applied ? ep : local!.ep;
    const resTick = applied ? st.tick : local!.tick;
    const resEndpoint = store.endpoint(resEp);
    const resStamp = applied ? st.stamp : local!.stamp;
    const resUser = applied ? st.user : undefined;
    if (diagnoses.length === 0 && resUser === undefined) {
      // The common case (created, updated, deleted): a compact record, rendered to XML when the results are read.
      this.results.add(compactResult(status, method, id, resEp, resTick, resStamp));
      return;
    }
    let payload: string | undefined;
    if (verdict?.conflict && !verdict.apply && !deleted) payload = resources.payloadOf(id);
    this.result({
      id: `${this.identity}('${id}')`,
      title: `${this.kind.name} ${id}`,
      status,
      method,
      location: `${this.serving}('${id}')`,
      etag: etagOf(resEndpoint.norm, resTick),
      stateXml: stateXml(resEndpoint.xml, resTick, resStamp, resUser),
      diagnoses,
      payload,
      updated: this.now,
    });
  }
}

function info(code: string, message: string): Diagnosis {
  return { severity: 'info', sdataCode: 'ApplicationDiagnosis', applicationCode: code, message };
}

/** An incoming deletion carries a deletion payload already; a DELETE-method entry may carry the full resource. */
function deletionOf(fragment: string, uuid: string): string {
  const rt = scanRootTag(fragment);
  return rt.selfClosing ? fragment : tombstoneFragment(fragment, uuid);
}

function checkTickSize(t: Tick, what: string, source: string): void {
  if (t.length > MAX_TICK_DIGITS) {
    throw new SdataError('SDATA_E_TICK', `${source}: ${what}: tick has ${t.length} digits; this store keeps at most ${MAX_TICK_DIGITS}`);
  }
}
