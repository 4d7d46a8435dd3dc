import pLimit from 'p-limit';
import { HttpStatusError, readSmallDocument, statusError } from '../http/body.ts';
import { MAX_SCHEMA_BYTES } from '../xml/limits.ts';
import type { HttpClient } from '../http/client.ts';
import { SdataError } from '../protocol/errors.ts';
import { kindWaves, parseSchemaKinds, syncableKinds, type SchemaKind } from '../xml/schema-kinds.ts';
import type { Logger } from './log.ts';
import { runPass, type PassOptions, type PassResult } from './pass.ts';
import { newPassStats, type PassStats } from './stats.ts';

export type RunOptions = Omit<PassOptions, 'kind' | 'stats'> & {
  kinds: string[];
  /**
   * `kinds` grouped in waves (kindOrder): a wave's passes may run at once (--concurrency), waves one after another.
   * Default: every kind a wave of its own, or all in one with --concurrency above 1.
   */
  waves?: string[][];
  /** Passes at once, within a wave. */
  concurrency: number;
  /** Called when a pass's stats exist (progress display). */
  onPass?: (stats: PassStats) => void;
  /** Called as each pass ends, with its result (the library's events, run-sync.ts). */
  onPassDone?: (result: PassResult) => void;
};

export interface RunResult {
  passes: PassResult[];
  notRun: string[];
}

/**
 * A run: one pass per kind, sharing runName/runStamp (docs/protocol.md §1.3 step 0), wave after wave (docs/protocol.md X20). Within a
 * wave, one pass at a time by default, or up to --concurrency at once (kinds of one wave have no order between
 * them). A failed pass stops the run at the end of its wave, because later kinds may reference what it did not bring
 * (6.1); with one pass at a time it stops at once.
 */
export async function runKinds(o: RunOptions): Promise<RunResult> {
  const passes: PassResult[] = [];
  const notRun: string[] = [];
  const waves = o.waves ?? (o.concurrency > 1 ? [o.kinds] : o.kinds.map((k) => [k]));
  const limit = pLimit(Math.max(1, o.concurrency));
  const pass = async (kind: string): Promise<PassResult> => {
    const stats = newPassStats(kind);
    o.onPass?.(stats);
    const r = await runPass({ ...o, kind, stats });
    o.onPassDone?.(r);
    return r;
  };
  for (const wave of waves) {
    if (o.signal?.aborted || passes.some((p) => !p.ok)) {
      notRun.push(...wave);
      continue;
    }
    if (o.concurrency <= 1) {
      for (const kind of wave) {
        if (o.signal?.aborted || passes.some((p) => !p.ok)) {
          notRun.push(kind);
          continue;
        }
        passes.push(await pass(kind));
      }
      continue;
    }
    const results = await Promise.all(wave.map((kind) => limit(async () => (o.signal?.aborted ? undefined : pass(kind)))));
    results.forEach((r, i) => {
      if (r) passes.push(r);
      else notRun.push(wave[i]!);
    });
  }
  return { passes, notRun };
}

export async function schemaOf(client: HttpClient, datasetBase: string): Promise<SchemaKind[]> {
  const url = `${datasetBase.replace(/\/+$/, '')}/$schema`;
  const res = await client.request({ method: 'GET', url, headers: { accept: 'application/xml' } });
  if (res.statusCode !== 200) throw await statusError('GET', res, 'reading the schema');
  try {
    return parseSchemaKinds(await readSmallDocument(res, MAX_SCHEMA_BYTES));
  } catch (e) {
    throw new SdataError('SDATA_E_PROTOCOL', `${url}: cannot read the schema: ${(e as Error).message}`, { url, cause: e });
  }
}

export interface KindOrderOptions {
  source: HttpClient;
  sourceBase: string;
  target: HttpClient;
  targetBase: string;
  /** `--kind`: these kinds, in this order unless the schemas order them. Undefined: every kind both sides sync. */
  given?: string[] | undefined;
  log: Logger;
}

/**
 * The kinds of a run in waves (docs/protocol.md §1.3 step 0, X20): by `sme:syncOrder` from both providers' `$schema`.
 * `--kind` selects; the schemas order (the target's first, spec 6.1: referenced kinds must be there before the kinds
 * that point at them). Every kind both sides sync when none is given: the source's schema is then required; given
 * kinds keep the given order where no schema can be read (a 404 is said at debug level, another failure as a warning).
 * A single given kind needs no order and costs no schema request.
 */
export async function kindOrder(o: KindOrderOptions): Promise<string[][]> {
  // One kind has nothing to be ordered against: no schema requests.
  if (o.given !== undefined && new Set(o.given).size < 2) return o.given.map((k) => [k]);
  const read = async (client: HttpClient, base: string, side: string): Promise<SchemaKind[] | undefined> => {
    try {
      return await schemaOf(client, base);
    } catch (e) {
      if (o.given === undefined && side === 'source') throw e;
      const notFound = e instanceof HttpStatusError && e.status === 404;
      const say = `no ${side} $schema (${(e as Error).message}): ${o.given ? 'kinds run in the order given' : 'the source\'s alone orders the kinds'}`;
      if (notFound) o.log.debug(say);
      else o.log.warn(say);
      return undefined;
    }
  };
  const [s, t] = await Promise.all([read(o.source, o.sourceBase, 'source'), read(o.target, o.targetBase, 'target')]);
  let names = o.given;
  if (names === undefined) {
    names = syncableKinds(s!, t);
    if (names.length === 0) throw new SdataError('SDATA_E_PROTOCOL', `${o.sourceBase}/$schema declares no kind with sme:isSyncSource="true"${t ? ' that the target accepts as sme:isSyncTarget' : ''}`);
  }
  const { waves, disagreements } = kindWaves(names, s, t);
  for (const [a, b] of disagreements.slice(0, 5)) {
    o.log.info(`the source's $schema orders ${a} before ${b}, the target's ${b} before ${a}: following the target's (it resolves the references)`);
  }
  o.log.debug(`kind order (sme:syncOrder): ${waves.map((w) => w.join(' + ')).join(', ')}${o.given ? ` (given: ${o.given.join(', ')})` : ''}`);
  return waves;
}
