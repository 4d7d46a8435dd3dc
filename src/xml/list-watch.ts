import { listRule, WORK } from './child-list-rule.ts';

/** What a start tag says for the child-list rule (child-list-rule.ts), as ListWatch.open takes it. */
export const L_UUID = 1;
export const L_FLAG = 2;
export const L_COMPLETE = 4;
export const L_DELETED = 8;
const L_TEXT = 16;
const L_DELETED_CHILD = 32;

/**
 * Whether an element has, at any depth, a child list that needs the merge (the rule of child-list-rule.ts), counted
 * while a reader reads it. The target's record scanner (record-scanner.ts) counts in the pass that reads the entry;
 * the provider's `needsListMerge` (src/provider/payload/list-scan.ts) in a second pass over a stored fragment, and is
 * the oracle of the scanner's answer (test/provider/payload/list-work.test.ts). The reader says where the element starts (`start`), what each start tag inside says (`open`: L_* bits
 * from its sdata:uuid, sdata:deleteMissing and sdata/sync:isDeleted attributes), where character data that is not
 * white space stands (`text`), and where each element ends (`close`); `work` is the answer once the element closed.
 */
export class ListWatch {
  /** Depth of the element watched (its start tag's), and whether it is still open. */
  private base = 0;
  active = false;
  /** Whether a list that needs the merge was found. */
  work = false;
  private flags = new Uint8Array(16);
  private kids = new Int32Array(16);
  private uuidKids = new Int32Array(16);

  /** The watched element opens at `depth`, its start tag saying `bits`. */
  start(depth: number, bits: number): void {
    this.base = depth;
    this.active = true;
    this.work = false;
    this.open(depth, bits);
  }

  open(depth: number, bits: number): void {
    const i = depth - this.base;
    if (i >= this.flags.length) this.grow();
    this.flags[i] = bits;
    this.kids[i] = 0;
    this.uuidKids[i] = 0;
  }

  /** Character data that is not white space, directly inside the element at `depth`. */
  text(depth: number): void {
    this.flags[depth - this.base]! |= L_TEXT;
  }

  close(depth: number): void {
    const i = depth - this.base;
    const fl = this.flags[i]!;
    if (!this.work && (listRule((fl & L_UUID) !== 0, (fl & L_TEXT) !== 0, (fl & L_FLAG) !== 0, (fl & L_COMPLETE) !== 0, this.kids[i]!,
      this.uuidKids[i]!, (fl & L_DELETED_CHILD) !== 0) & WORK) !== 0) this.work = true;
    if (i === 0) {
      this.active = false;
      return;
    }
    this.kids[i - 1]!++;
    if ((fl & L_UUID) !== 0) this.uuidKids[i - 1]!++;
    if ((fl & L_DELETED) !== 0) this.flags[i - 1]! |= L_DELETED_CHILD;
  }

  private grow(): void {
    const n = this.flags.length * 2;
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
    const k = new Int32Array(n);
    k.set(this.kids);
    this.kids = k;
    const u = new Int32Array(n);
    u.set(this.uuidKids);
    this.uuidKids = u;
  }
}
