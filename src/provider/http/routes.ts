import { KIND_NAME } from '../store/store.ts';
import { HttpProblem } from './http-io.ts';

/**
 * URL grammar of the provider (spec 4.1, core 3.x):
 *   /sdata/{app}/{contract}/{dataset}/$health                      admin JSON
 *   /sdata/{app}/{contract}/{dataset}/$schema                      kinds with their sme sync attributes
 *   /sdata/{app}/{contract}/{dataset}/{kind}                       collection
 *   /sdata/{app}/{contract}/{dataset}/{kind}('{key}')              one resource
 *   /sdata/{app}/{contract}/{dataset}/{kind}/$syncDigest | $syncSource | $syncTarget | $syncResults | $batch | $checksum
 *   /sdata/{app}/{contract}/{dataset}/{kind}/$syncSource('{id}') | $syncTarget('{id}') | $batch('{id}')   contexts
 *   /sdata/{app}/{contract}/{dataset}/{kind}/$linked | $linked('{uuid}') | $linked/$batch | $linked/$batch('{id}')
 * Segments are percent-decoded; selectors may be quoted or not (`('42')`, `(42)`). A segment with control characters,
 * or a kind name no kind can have, is refused (`400`) before anything else is looked at.
 */

export type Op = 'collection' | 'resource' | '$syncDigest' | '$syncSource' | '$syncTarget' | '$syncResults' | '$batch' | '$checksum'
  | '$linked' | '$linked/$batch';

export type Route =
  | { kind: undefined; op: '$health' | '$schema' }
  /** key: the resource's local key, or the uuid of `$linked('{uuid}')`; context: an asynchronous operation's id. */
  | { kind: string; op: Op; key?: string; context?: string };

export interface DatasetId {
  app: string;
  contract: string;
  dataset: string;
}

const SELECTOR = /^([^()]+)\((?:'((?:[^']|'')*)'|"([^"]*)"|([^()'"]*))\)$/;

function splitSelector(seg: string): { name: string; sel: string | undefined } {
  const m = SELECTOR.exec(seg);
  if (!m) return { name: seg, sel: undefined };
  const sel = m[2] !== undefined ? m[2].replace(/''/g, "'") : (m[3] ?? m[4] ?? '');
  return { name: m[1]!, sel };
}

// C0 and C1 controls, DEL; U+FFFD (what a broken byte sequence became).
const ODD = /[\u0000-\u001f\u007f-\u009f\ufffd]/u;

function decode(seg: string, path: string): string {
  let s: string;
  try {
    s = decodeURIComponent(seg);
  } catch {
    throw new HttpProblem(400, `${path}: segment '${seg}' is not valid percent-encoding`, 'BadUrlSyntax');
  }
  if (ODD.test(s)) throw new HttpProblem(400, `${path}: segment '${seg}' holds control characters`, 'BadUrlSyntax');
  return s;
}

/** A kind segment: a possible kind name (served or not: 404 later), or `$name` (an unknown service: 404 below). */
function checkKindName(name: string, path: string): void {
  if (!KIND_NAME.test(name.startsWith('$') ? name.slice(1) : name)) {
    throw new HttpProblem(400, `${path}: '${name}' cannot be a resource kind (letters, digits, _ . -; a letter or _ first)`, 'BadUrlSyntax');
  }
}

export function parseRoute(pathname: string, ds: DatasetId): Route {
  const raw = pathname.split('/');
  // '' before the leading slash; tolerate one trailing slash.
  if (raw[raw.length - 1] === '' && raw.length > 2) raw.pop();
  const segs = raw.slice(1).map((s) => decode(s, pathname));
  if (segs[0] !== 'sdata') throw new HttpProblem(404, `${pathname}: not an SData URL (expected /sdata/${ds.app}/${ds.contract}/${ds.dataset}/…)`, 'BadUrlSyntax');
  if (segs[1] !== ds.app) throw new HttpProblem(404, `${pathname}: unknown application '${segs[1] ?? ''}' (this provider serves '${ds.app}')`, 'ApplicationNotFound');
  if (segs[2] !== ds.contract) throw new HttpProblem(404, `${pathname}: unknown contract '${segs[2] ?? ''}' (this provider serves '${ds.contract}')`, 'ContractNotFound');
  if (segs[3] !== ds.dataset) throw new HttpProblem(404, `${pathname}: unknown dataset '${segs[3] ?? ''}' (this provider serves '${ds.dataset}')`, 'DatasetNotFound');
  const rest = segs.slice(4);
  if (rest.length === 0) throw new HttpProblem(404, `${pathname}: no resource kind given`, 'ResourceKindNotFound');
  if (rest.length === 1 && (rest[0] === '$health' || rest[0] === '$schema')) return { kind: undefined, op: rest[0] };
  const head = splitSelector(rest[0]!);
  checkKindName(head.name, pathname);
  if (rest.length === 1) {
    return head.sel === undefined ? { kind: head.name, op: 'collection' } : { kind: head.name, op: 'resource', key: head.sel };
  }
  if (rest.length === 2 && head.sel === undefined) {
    const svc = splitSelector(rest[1]!);
    switch (svc.name) {
      case '$syncSource':
      case '$syncTarget':
      case '$batch':
        return svc.sel === undefined ? { kind: head.name, op: svc.name } : { kind: head.name, op: svc.name, context: svc.sel };
      case '$syncDigest':
      case '$syncResults':
      case '$checksum':
        if (svc.sel === undefined) return { kind: head.name, op: svc.name };
        break;
      case '$linked':
        return svc.sel === undefined ? { kind: head.name, op: '$linked' } : { kind: head.name, op: '$linked', key: svc.sel };
      default:
        break;
    }
  }
  if (rest.length === 3 && head.sel === undefined && rest[1] === '$linked') {
    const svc = splitSelector(rest[2]!);
    if (svc.name === '$batch') return svc.sel === undefined ? { kind: head.name, op: '$linked/$batch' } : { kind: head.name, op: '$linked/$batch', context: svc.sel };
  }
  throw new HttpProblem(404, `${pathname}: no such resource or service`, 'BadUrlSyntax');
}

/** A context id as a URL selector: quotes and parentheses percent-encoded so the id round-trips exactly. */
export function contextSelector(id: string): string {
  return `('${encodeURIComponent(id).replace(/'/g, '%27').replace(/\(/g, '%28').replace(/\)/g, '%29')}')`;
}

/** A query parameter matched case-insensitively by name (trackingID / trackingId, docs/protocol.md A1). */
export function queryParam(url: URL, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of url.searchParams) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** An integer query parameter within [min, max]; absent or unusable: `dflt` (core 2.11: ignored, not refused). */
export function intParam(url: URL, name: string, min: number, max: number, dflt: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min ? Math.min(n, max) : dflt;
}
