import { documentText, encodingError } from './encoding.ts';
import { guardDocument } from './limit-guard.ts';
import { MAX_SCHEMA_BYTES } from './limits.ts';
import { createParser } from './saxes-adapter.ts';
import { NS } from '../protocol/namespaces.ts';

const XS = 'http://www.w3.org/2001/XMLSchema';

export interface SchemaKind {
  name: string;
  syncOrder: number | undefined;
  isSyncSource: boolean;
  isSyncTarget: boolean;
  /** `sme:supportsLinking` (ours, docs/protocol.md X17): the kind has `$linked` (spec 1.3). */
  supportsLinking: boolean;
  /** `sme:linkedBatchingMode` (ours, X17): how `$linked/$batch` may be called (`sme:batchingMode`'s values). */
  linkedBatchingMode: string | undefined;
}

/**
 * The resource kinds a provider's `$schema` declares (docs/protocol.md §2.7): `xs:element`s carrying sme attributes, with
 * `sme:syncOrder`, `sme:isSyncSource`, `sme:isSyncTarget`. Lenient: unknown content is skipped; an element is a
 * kind when it has any sme sync attribute or `sme:role="resourceKind"`.
 */
export function parseSchemaKinds(xml: string, source = '$schema'): SchemaKind[] {
  const text = documentText(xml);
  if (typeof text !== 'string') throw encodingError(source, text);
  const out: SchemaKind[] = [];
  const p = createParser();
  guardDocument(p, text, source, 'the $schema document', MAX_SCHEMA_BYTES);
  p.on('doctype', () => {
    throw new Error('DOCTYPE refused in $schema');
  });
  p.on('opentag', (t) => {
    if (t.uri !== XS || t.local !== 'element') return;
    const name = t.attributes['name']?.value;
    if (!name) return;
    let order: number | undefined;
    let src = false;
    let tgt = false;
    let isKind = false;
    let linking = false;
    let linkedBatching: string | undefined;
    for (const k in t.attributes) {
      const a = t.attributes[k]!;
      if (a.uri !== NS.sme) continue;
      const v = a.value.trim();
      if (a.local === 'syncOrder') {
        const n = Number(v);
        if (Number.isFinite(n)) order = n;
        isKind = true;
      } else if (a.local === 'isSyncSource') {
        src = v === 'true' || v === '1';
        isKind = true;
      } else if (a.local === 'isSyncTarget') {
        tgt = v === 'true' || v === '1';
        isKind = true;
      } else if (a.local === 'role' && v === 'resourceKind') isKind = true;
      else if (a.local === 'supportsLinking') linking = v === 'true' || v === '1';
      else if (a.local === 'linkedBatchingMode') linkedBatching = v;
    }
    if (isKind) out.push({ name, syncOrder: order, isSyncSource: src, isSyncTarget: tgt, supportsLinking: linking, linkedBatchingMode: linkedBatching });
  });
  p.write(text).close();
  return out;
}

/** Kinds a pass can run on: a sync source here, a sync target there (when the target's schema is known); by name. */
export function syncableKinds(source: SchemaKind[], target: SchemaKind[] | undefined): string[] {
  const tgt = target ? new Map(target.map((k) => [k.name, k])) : undefined;
  return source.filter((k) => k.isSyncSource && (!tgt || tgt.get(k.name)?.isSyncTarget === true)).map((k) => k.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface KindWaves {
  /** The kinds in order, grouped: a wave holds kinds with no order between them, waves go one after another. */
  waves: string[][];
  /** Pairs the source orders one way and the target the other (the target's order is followed). */
  disagreements: Array<[before: string, after: string]>;
}

/**
 * `names` (in the order given) ordered by `sme:syncOrder`, lowest first (spec 4.5, 6.1; docs/protocol.md X20): the
 * target's order decides, since the target resolves references when it applies a kind; the source's orders what
 * the target leaves equal or unordered; kinds neither orders come last, in the order given. Kinds whose orders are
 * all equal form one wave (they may run at once); a kind named twice goes in another wave.
 */
export function kindWaves(names: string[], source: SchemaKind[] | undefined, target: SchemaKind[] | undefined): KindWaves {
  const orderIn = (schema: SchemaKind[] | undefined): Map<string, number> =>
    new Map((schema ?? []).filter((k) => k.syncOrder !== undefined).map((k) => [k.name, k.syncOrder!]));
  const s = orderIn(source);
  const t = orderIn(target);
  const key = (n: string): [number, number] => [t.get(n) ?? Infinity, s.get(n) ?? Infinity];
  const cmp = (x: number, y: number): number => (x < y ? -1 : x > y ? 1 : 0);
  const sorted = names.map((n) => ({ n, k: key(n) })).sort((a, b) => cmp(a.k[0], b.k[0]) || cmp(a.k[1], b.k[1]));
  const waves: string[][] = [];
  let last: [number, number] | undefined;
  for (const { n, k } of sorted) {
    const wave = waves[waves.length - 1];
    if (wave && last && last[0] === k[0] && last[1] === k[1] && !wave.includes(n)) wave.push(n);
    else waves.push([n]);
    last = k;
  }
  const disagreements: Array<[string, string]> = [];
  for (const a of names) {
    for (const b of names) {
      const [sa, sb, ta, tb] = [s.get(a), s.get(b), t.get(a), t.get(b)];
      if (sa !== undefined && sb !== undefined && ta !== undefined && tb !== undefined && sa < sb && ta > tb) disagreements.push([a, b]);
    }
  }
  return { waves, disagreements };
}
