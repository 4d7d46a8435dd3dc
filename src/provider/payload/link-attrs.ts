import { escapeAttr } from '../../protocol/escape.ts';
import { NS } from '../../protocol/namespaces.ts';
import { rootDeclarations, scanRootTag } from './fragment.ts';

/**
 * The `sdata:` attributes of a stored fragment's root that linking changes (spec 1.3, core 3.9): `uuid`, which a
 * link gives, moves or takes away, and `url` and `key`, which `$linked` entries show. The root start tag is rebuilt
 * from its attributes, everything after it is kept byte for byte.
 */

export type SdataAttrs = Partial<Record<'uuid' | 'url' | 'key', string | undefined>>;

/**
 * The fragment with the root's sdata attributes set as given (a key given as undefined removes the attribute; a
 * key not given is left alone). `attrsOnly`: the root alone, emptied of its content (`$linked?select=`).
 */
export function withSdataAttrs(f: string, set: SdataAttrs, attrsOnly = false): string {
  const rt = scanRootTag(f);
  const decls = rootDeclarations(rt);
  const sp = sdataPrefix(decls);
  const attrs: string[] = [];
  for (const [name, value] of rt.attrs) {
    const c = name.indexOf(':');
    if (c > 0 && decls.get(name.slice(0, c)) === NS.sdata && Object.hasOwn(set, name.slice(c + 1))) continue;
    attrs.push(` ${name}=${quote(value)}`);
  }
  if (sp.declare) attrs.push(` xmlns:${sp.prefix}="${NS.sdata}"`);
  for (const local of ['uuid', 'url', 'key'] as const) {
    const v = set[local];
    if (v !== undefined) attrs.push(` ${sp.prefix}:${local}="${escapeAttr(v)}"`);
  }
  const open = `<${rt.qname}${attrs.join('')}`;
  if (attrsOnly || rt.selfClosing) return `${open}/>`;
  return `${open}>${f.slice(rt.end)}`;
}

/** The fragment with `uuid` as its root's sdata:uuid, or with none (a resource without a link). */
export function withRootUuid(f: string, uuid: string | undefined): string {
  return withSdataAttrs(f, { uuid });
}

/** A raw attribute value re-quoted: double quotes unless the value holds one (it was single-quoted). */
function quote(raw: string): string {
  return raw.includes('"') ? `'${raw}'` : `"${raw}"`;
}

/** A prefix bound to the sdata namespace on the root, or one to declare (`sdataU` when `sdata` means something else). */
function sdataPrefix(decls: Map<string, string>): { prefix: string; declare: boolean } {
  if (decls.get('sdata') === NS.sdata) return { prefix: 'sdata', declare: false };
  for (const [k, v] of decls) if (v === NS.sdata && k !== '') return { prefix: k, declare: false };
  return { prefix: decls.has('sdata') ? 'sdataU' : 'sdata', declare: true };
}
