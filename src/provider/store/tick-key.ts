import { SdataError } from '../../protocol/errors.ts';
import type { Tick } from '../../protocol/ticks.ts';

/**
 * How ticks are stored in SQLite. Ticks are XML integers of any size (docs/protocol.md §2.1) and SQLite INTEGER stops at
 * 2^63, so tick columns hold TEXT of the form `LL:digits`: the canonical decimal tick prefixed with its digit count
 * as two decimals (`5` → `01:5`, `12345` → `05:12345`). SQLite's default BINARY collation then orders keys exactly
 * as the numbers they encode (shorter numbers first, equal lengths digit by digit), so range scans, indexes and
 * `MAX()` stay exact at any magnitude, and a key stays readable in the sqlite3 shell. Limit: 99 digits.
 */
export const MAX_TICK_DIGITS = 99;

export function tickKey(t: Tick): string {
  const n = t.length;
  if (n > MAX_TICK_DIGITS) {
    throw new SdataError('SDATA_E_TICK', `tick ${t.slice(0, 12)}… has ${n} digits; this store keeps ticks of at most ${MAX_TICK_DIGITS} digits`);
  }
  return n < 10 ? `0${n}:${t}` : `${n}:${t}`;
}

export function tickOfKey(key: string): Tick {
  return key.slice(3);
}

/** A key below every tick key (an absent lower bound). */
export const TICK_KEY_MIN = '';
