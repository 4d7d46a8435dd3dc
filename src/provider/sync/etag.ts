import type { Tick } from '../../protocol/ticks.ts';

/**
 * A resource version's ETag: a 64-bit hash of its syncState, which changes with every version (a local edit takes
 * a new tick, an applied change brings its origin's state). Two stores holding the same version give the same ETag.
 * Not cryptographic on purpose: it is computed per applied entry, and only has to tell versions apart.
 */
export function etagOf(endpointNorm: string, tick: Tick): string {
  const [a, b] = etagSeed(endpointNorm);
  return etagFrom(a, b, tick);
}

/** The hash state after an endpoint (and the separator): the part of an ETag that a result feed can reuse. */
export function etagSeed(endpointNorm: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < endpointNorm.length; i++) {
    const c = endpointNorm.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = Math.imul(a ^ 10, 0x01000193);
  b = Math.imul(b ^ 10, 0x5bd1e995);
  return [a, b];
}

export function etagFrom(a: number, b: number, tick: Tick): string {
  for (let i = 0; i < tick.length; i++) {
    const c = tick.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = fmix(a);
  b = fmix(b ^ a);
  return (a >>> 0).toString(36).padStart(7, '0') + (b >>> 0).toString(36).padStart(7, '0');
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** ETags compare without quotes or a weak marker (clients quote them; we send them bare, as http:etag is). */
export function etagMatches(given: string, current: string): boolean {
  let g = given.trim();
  if (g === '*') return true;
  if (g.startsWith('W/')) g = g.slice(2);
  if (g.length >= 2 && g.startsWith('"') && g.endsWith('"')) g = g.slice(1, -1);
  return g === current;
}
