/**
 * Ticks are XML integers of any size (docs/protocol.md §2.1, docs/engine-rules.md §1). We keep them as canonical decimal strings
 * (no sign, no leading zeros) so that comparison is exact at any magnitude and costs no allocation.
 */
export type Tick = string;

const DIGITS = /^[0-9]+$/;

/** Canonical tick from XML text, or undefined if it is not a non-negative integer. Accepts surrounding space and leading `+`. */
export function parseTick(text: string): Tick | undefined {
  let s = text.trim();
  if (s.charCodeAt(0) === 43 /* + */) s = s.slice(1);
  if (!DIGITS.test(s)) return undefined;
  let i = 0;
  while (i < s.length - 1 && s.charCodeAt(i) === 48 /* 0 */) i++;
  return i === 0 ? s : s.slice(i);
}

/** Exact comparison of canonical ticks: negative, zero or positive. */
export function compareTicks(a: Tick, b: Tick): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function tickLess(a: Tick, b: Tick): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

export function maxTick(a: Tick, b: Tick): Tick {
  return tickLess(a, b) ? b : a;
}

export function nextTick(t: Tick): Tick {
  return (BigInt(t) + 1n).toString();
}
