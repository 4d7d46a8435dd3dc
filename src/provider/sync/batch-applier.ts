import type { Diagnosis } from '../../protocol/diagnosis.ts';
import type { EntryRecord } from '../../xml/feed-types.ts';
import { storedFragment } from '../payload/fragment.ts';
import type { ResourceRow, ResultWriter } from '../store/repositories.ts';
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

export class BatchApplier implements BodyApplier {
  readonly stats: BatchStats = { entries: 0, ok: 0, failed: 0 };
  private readonly ops: LocalOps;
  private readonly serving: string;
  private readonly source: string;
  private readonly results: ResultWriter;
  private now = new Date().toISOString();

  constructor(ops: LocalOps, ctx: number, servingCollection: string, source: string) {
    this.ops = ops;
    this.serving = servingCollection;
    this.source = source;
    this.results = ops.store.results.writer(ctx);
  }

  /** Call first inside each transaction (local edits take their own writer: they join it). */
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
      const fault = this.ops.store.fault(e);
      if (fault) throw fault;
      r = this.failure(rec, 500, `could not be processed: ${(e as Error).message}`);
    }
    if (r.status >= 400) this.stats.failed++;
    else this.stats.ok++;
    this.results.add(resultEntryXml(r));
  }

  private failure(rec: EntryRecord, status: number, message: string, extra: Partial<ResultEntry> = {}): ResultEntry {
    const d: Diagnosis = {
      severity: status >= 500 ? 'transient' : 'error', sdataCode: 'ApplicationDiagnosis', applicationCode: 'BatchEntryFailed',
      message: `${this.source}:${rec.line}:${rec.column}: entry #${rec.index + 1}${rec.atomId ? ` (${rec.atomId})` : ''}: ${message}`,
    };
    return { id: rec.atomId || `urn:sdata-sync:entry:${rec.index + 1}`, status, updated: this.now, diagnoses: [d], ...extra };
  }

  private ok(row: ResourceRow, status: number, method: string, withPayload: boolean): ResultEntry {
    const k = this.ops.kind;
    return {
      id: `${k.selfUrl}('${row.id}')`, title: `${k.name} ${row.id}`, status, method, location: `${this.serving}('${row.id}')`,
      etag: this.ops.etag(row), updated: this.now, ...(withPayload && !row.deleted ? { payload: row.payload } : {}),
    };
  }

  private process(rec: EntryRecord): ResultEntry {
    if (rec.text === undefined) return this.failure(rec, 413, rec.invalid ?? 'entry too large');
    const method = rec.httpMethod;
    if (method === undefined) return this.failure(rec, 400, 'no http:httpMethod (core 13.3)');
    const ops = this.ops;
    const key = keyOfId(rec.atomId);
    switch (method) {
      case 'POST': {
        const uuid = rec.uuid ?? newUuid();
        const f = storedFragment(rec, uuid);
        if (f === undefined) return this.failure(rec, 400, 'sdata:payload has no resource element');
        const { row } = ops.create(f, uuid);
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
