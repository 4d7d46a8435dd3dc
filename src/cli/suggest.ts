/**
 * "Did you mean …": the closest of some names to a mistyped one (Damerau-Levenshtein, as commander's own suggestions
 * for commands and flags, which it does not export): used for --config file keys and SDATA_SYNC_* variables.
 */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest name within a third of the word's length (case-insensitive), or undefined when none is that close. */
export function closest(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const n of names) {
    const dd = distance(word.toLowerCase(), n.toLowerCase());
    if (dd < bestD) {
      bestD = dd;
      best = n;
    }
  }
  return best;
}

/** ` (did you mean X?)`, or nothing. */
export function didYouMean(word: string, names: Iterable<string>): string {
  const c = closest(word, names);
  return c === undefined ? '' : ` (did you mean ${c}?)`;
}
