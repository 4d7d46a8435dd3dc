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
    }
    if (isKind) out.push({ name, syncOrder: order, isSyncSource: src, isSyncTarget: tgt });
  });
  p.write(text).close();
  return out;
}

/** Kinds a pass can run on (source here, target there), in increasing syncOrder; unordered kinds last, by name. */
export function orderKinds(source: SchemaKind[], target: SchemaKind[] | undefined): string[] {
  const tgt = target ? new Map(target.map((k) => [k.name, k])) : undefined;
  const kinds = source.filter((k) => k.isSyncSource && (!tgt || tgt.get(k.name)?.isSyncTarget === true));
  kinds.sort((a, b) => (a.syncOrder ?? Infinity) - (b.syncOrder ?? Infinity) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return kinds.map((k) => k.name);
}
