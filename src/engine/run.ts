import pLimit from 'p-limit';
import { readSmallDocument, statusError } from '../http/body.ts';
import { MAX_SCHEMA_BYTES } from '../xml/limits.ts';
import type { HttpClient } from '../http/client.ts';
import { SdataError } from '../protocol/errors.ts';
import { orderKinds, parseSchemaKinds, type SchemaKind } from '../xml/schema-kinds.ts';
import { runPass, type PassOptions, type PassResult } from './pass.ts';
import { newPassStats, type PassStats } from './stats.ts';

export type RunOptions = Omit<PassOptions, 'kind' | 'stats'> & {
  kinds: string[];
  /** Passes at once; above 1 only when the user says the kinds are independent. */
  concurrency: number;
  /** Called when a pass's stats exist (progress display). */
  onPass?: (stats: PassStats) => void;
};

export interface RunResult {
  passes: PassResult[];
  notRun: string[];
}

/**
 * A run: one pass per kind, in the given order, sharing runName/runStamp (docs/protocol.md §1.3 step 0). One at a time by
 * default, and then a failed pass stops the run, because later kinds may reference what it did not bring
 * (6.1); with --concurrency N the user declares the kinds independent and every pass runs.
 */
export async function runKinds(o: RunOptions): Promise<RunResult> {
  const passes: PassResult[] = [];
  const notRun: string[] = [];
  if (o.concurrency <= 1) {
    for (const kind of o.kinds) {
      if (o.signal?.aborted || passes.some((p) => !p.ok)) {
        notRun.push(kind);
        continue;
      }
      const stats = newPassStats(kind);
      o.onPass?.(stats);
      passes.push(await runPass({ ...o, kind, stats }));
    }
    return { passes, notRun };
  }
  const limit = pLimit(o.concurrency);
  const results = await Promise.all(o.kinds.map((kind) => limit(async () => {
    if (o.signal?.aborted) return undefined;
    const stats = newPassStats(kind);
    o.onPass?.(stats);
    return runPass({ ...o, kind, stats });
  })));
  results.forEach((r, i) => {
    if (r) passes.push(r);
    else notRun.push(o.kinds[i]!);
  });
  return { passes, notRun };
}

async function schemaOf(client: HttpClient, datasetBase: string): Promise<SchemaKind[]> {
  const url = `${datasetBase.replace(/\/+$/, '')}/$schema`;
  const res = await client.request({ method: 'GET', url, headers: { accept: 'application/xml' } });
  if (res.statusCode !== 200) throw await statusError('GET', res, 'reading the schema');
  try {
    return parseSchemaKinds(await readSmallDocument(res, MAX_SCHEMA_BYTES));
  } catch (e) {
    throw new SdataError('SDATA_E_PROTOCOL', `${url}: cannot read the schema: ${(e as Error).message}`, { url, cause: e });
  }
}

/** Every kind both sides can sync, by `sme:syncOrder` from the providers' `$schema` (docs/protocol.md §2.7, spec 4.5). */
export async function discoverKinds(source: HttpClient, sourceBase: string, target: HttpClient, targetBase: string): Promise<string[]> {
  const s = await schemaOf(source, sourceBase);
  let t: SchemaKind[] | undefined;
  try {
    t = await schemaOf(target, targetBase);
  } catch {
    t = undefined; // the source's schema alone still gives the order
  }
  const kinds = orderKinds(s, t);
  if (kinds.length === 0) throw new SdataError('SDATA_E_PROTOCOL', `${sourceBase}/$schema declares no kind with sme:isSyncSource="true"${t ? ' that the target accepts as sme:isSyncTarget' : ''}`);
  return kinds;
}
