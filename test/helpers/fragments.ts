import { Rng } from '../../src/gen/rng.ts';
import { NS } from '../../src/protocol/namespaces.ts';

const S = NS.sdata;

/** Random payloads: lists (flagged or not, empty or not), references, children, text, comments, CDATA, declarations. */
export function randomFragment(r: Rng): string {
  let n = 0;
  const el = (depth: number): string => {
    const name = r.pick(['l', 'x:l', 'i', 'v']);
    const decl = r.int(8) === 0 ? ` xmlns:${r.pick(['s', 'x', 'q'])}="${r.pick([S, NS.sync, 'urn:x'])}"` : '';
    let attrs = '';
    if (r.int(3) === 0) attrs += ` ${r.pick(['sdata', 's', 'q'])}:uuid="u${n++}"`;
    if (r.int(5) === 0) attrs += ` ${r.pick(['sdata', 's'])}:deleteMissing="${r.pick(['true', 'false', '1', ' true '])}"`;
    if (r.int(6) === 0) attrs += ` ${r.pick(['sdata', 'sync', 's'])}:isDeleted="${r.pick(['true', 'false'])}"`;
    if (depth > 3 || r.int(4) === 0) return `<${name}${decl}${attrs}/>`;
    let body = '';
    const kids = r.int(4);
    for (let k = 0; k < kids; k++) {
      body += r.pick(['', '\n  ', ' ', 'text', '<!-- c -->', '<![CDATA[ ]]>', '<![CDATA[x]]>', '&#32;']);
      body += el(depth + 1);
    }
    return `<${name}${decl}${attrs}>${body}${r.pick(['', '\n', 'z'])}</${name}>`;
  };
  return `<a xmlns="urn:c" xmlns:sdata="${S}" xmlns:sync="${NS.sync}" xmlns:s="${S}" xmlns:q="urn:q" xmlns:x="urn:x" sdata:uuid="A">${el(0)}${el(0)}</a>`;
}
