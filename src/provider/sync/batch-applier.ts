import type { Diagnosis } from '../../protocol/diagnosis.ts';
import type { EntryRecord } from '../../xml/feed-types.ts';
import { storedFragment } from '../payload/fragment.ts';
import type { ResourceRow, ResultWriter, SyncStore } from '../store/repositories.ts';
import type { BodyApplier } from './body-applier.ts';
import { etagMatches } from './etag.ts';
import { newUuid, type LocalOps } from './local-edits.ts';
import { resultEntryXml, type ResultEntry } from './result-entry.ts';

/**
 * The core 13.3 batch: each entry names its operation in `http:httpMethod` (POST, PUT, DELETE, GET) and may carry
 * `http:ifMatch`; one result entry per request entry, in order (13.4). Operations are local edits (LocalOps).
 * Transactions belong to the caller, one per body chunk, as for $syncTarget.
 */

export interface BatchStats {
  entries: number;
  ok: number;
  failed: number;
}

/** The local key named by an entry id such as `…/accounts('42')` or `…/accounts(42)`. */
export function keyOfId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const m = /\((?:'([^']*)'|"([^"]*)"|([^()'"]*))\)\s*$/.exec(id);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

/**
 * What every core 13.3 batch shares ($batch, $linked/$batch): one result entry per request entry, in order (13.4),
 * written through the context's ResultWriter inside the caller's transactions; an entry that throws fails alone.
 * Subclasses say what an entry does (`process`).
 */
export abstract class EntryBatch implements BodyApplier {
  readonly stats: BatchStats = { entries: 0, ok: 0, failed: 0 };
  protected readonly source: string;
  protected now = new Date().toISOString();
  private readonly results: ResultWriter;
  /** The application code of a failed entry's diagnosis. */
  private readonly failureCode: (status: number) => string;
  /** The store's classification of an error as a fault of its own (disk full, lock, I/O), if it is one. */
  private readonly fault: (e: unknown) => Error | undefined;

  constructor(store: Pick<SyncStore, 'fault'>, results: ResultWriter, source: string, failureCode: (status: number) => string) {
    this.fault = (e) => store.fault(e);
    this.results = results;
    this.source = source;
    this.failureCode = failureCode;
  }

  /** Call first inside each transaction (the operations take their own writer: they join it). */
  begin(): void {
    this.now = new Date().toISOString();
  }

  flush(): void {
    this.results.flush();
  }

  discard(): void {
    this.results.discard();
  }

  head(): void {}

  end(): void {}

  entry(rec: EntryRecord): void {
    this.stats.entries++;
    let r: ResultEntry;
    try {
      r = this.process(rec);
    } catch (e) {
      // A store fault (disk full, lock, I/O) is not this entry's: the transaction is over, and so is the request.
      const fault = this.fault(e);
      if (fault) throw fault;
      const refused = this.refusal(e);
      r = refused ? this.failure(rec, refused.status, refused.message) : this.failure(rec, 500, `could not be processed: ${(e as Error).message}`);
    }
    if (r.status >= 400) this.stats.failed++;
    else this.stats.ok++;
    this.results.add(resultEntryXml(r));
  }

  /** The result of one request entry; throwing fails the entry (with `refusal`'s status, else 500). */
  protected abstract process(rec: EntryRecord): ResultEntry;

  /** An error that is an answer about the entry (its status and message), not an accident. */
  protected refusal(_e: unknown): { status: number; message: string } | undefined {
    return undefined;
  }

  protected failure(rec: EntryRecord, status: number, message: string, extra: Partial<ResultEntry> = {}): ResultEntry {
    const d: Diagnosis = {
      severity: status >= 500 ? 'transient' : 'error', sdataCode: 'ApplicationDiagnosis', applicationCode: this.failureCode(status),
      message: `${this.source}:${rec.line}:${rec.column}: entry #${rec.index + 1}${rec.atomId ? ` (${rec.atomId})` : ''}: ${message}`,
    };
    return { id: rec.atomId || `urn:sdata-sync:entry:${rec.index + 1}`, status, updated: this.now, diagnoses: [d], ...extra };
  }
}

export class BatchApplier extends EntryBatch {
  private readonly ops: LocalOps;
  private readonly serving: string;

  constructor(ops: LocalOps, ctx: number, servingCollection: string, source: string) {
    super(ops.store, ops.store.results.writer(ctx), source, () => 'BatchEntryFailed');
    this.ops = ops;
    this.serving = servingCollection;
  }

  private ok(row: ResourceRow, status: number, method: string, withPayload: boolean): ResultEntry {
    const k = this.ops.kind;
    return {
      id: `${k.selfUrl}('${row.id}')`, title: `${k.name} ${row.id}`, status, method, location: `${this.serving}('${row.id}')`,
      etag: this.ops.etag(row), updated: this.now, ...(withPayload && !row.deleted ? { payload: row.payload } : {}),
    };
  }

  protected process(rec: EntryRecord): ResultEntry {
    if (rec.text === undefined) return this.failure(rec, 413, rec.invalid ?? 'entry too large');
    const method = rec.httpMethod;
    if (method === undefined) return this.failure(rec, 400, 'no http:httpMethod (core 13.3)');
    const ops = this.ops;
    const key = keyOfId(rec.atomId);
    switch (method) {
      case 'POST': {
        // Without a uuid: a resource without a link (spec 1.2), as for a plain POST.
        const f = storedFragment(rec, rec.uuid);
        if (f === undefined) return this.failure(rec, 400, 'sdata:payload has no resource element');
        const { row } = ops.create(f, rec.uuid ?? newUuid(), rec.uuid !== undefined);
        return this.ok(row, 201, 'POST', true);
      }
      case 'GET': {
        const row = ops.find(key, rec.uuid);
        if (!row) return this.failure(rec, 404, 'no such resource');
        if (row.deleted) return this.failure(rec, 410, 'this resource was deleted');
        return this.ok(row, 200, 'GET', true);
      }
      case 'PUT': {
        const row = ops.find(key, rec.uuid);
        if (!row) return this.failure(rec, 404, 'no such resource');
        if (row.deleted) return this.failure(rec, 410, 'this resource was deleted');
        if (rec.ifMatch === undefined) return this.failure(rec, 400, 'a PUT needs http:ifMatch (core 9.3; "*" accepts any version)');
        if (!etagMatches(rec.ifMatch, ops.etag(row))) {
          return this.failure(rec, 412, `http:ifMatch ${rec.ifMatch} does not match the current version`, { etag: ops.etag(row), payload: row.payload });
        }
        const f = storedFragment(rec, row.uuid);
        if (f === undefined) return this.failure(rec, 400, 'sdata:payload has no resource element');
        return this.ok(ops.update(row, f), 200, 'PUT', true);
      }
      case 'DELETE': {
        const row = ops.find(key, rec.uuid);
        if (!row) return this.failure(rec, 404, 'no such resource');
        if (row.deleted) return this.failure(rec, 410, 'already deleted');
        if (rec.ifMatch !== undefined && !etagMatches(rec.ifMatch, ops.etag(row))) {
          return this.failure(rec, 412, `http:ifMatch ${rec.ifMatch} does not match the current version`, { etag: ops.etag(row) });
        }
        return this.ok(ops.remove(row), 200, 'DELETE', false);
      }
      default:
        return this.failure(rec, 400, `http:httpMethod ${method} is not one of POST, PUT, DELETE, GET`);
    }
  }
}
