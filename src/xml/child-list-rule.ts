/**
 * The child-list rule of docs/protocol.md §3.3 (A9), as a pure function of what a reader counts about one element.
 * It lives here, below both its users: the provider's payload code (which merges delta lists when it stores a
 * resource, src/provider/payload/) and the canonical payload form (which compares lists by uuid, canonical.ts).
 */

export const LIST = 1;
export const WORK = 2;

/**
 * An element is a child list when it carries no `sdata:uuid` (an element with one is a resource, a child or a
 * reference, never a list), has no character data of its own, and either carries `sdata:deleteMissing` or has element
 * children that all carry `sdata:uuid`. A list needs work when it is not flagged complete and its children can be
 * matched (a delta: it merges with the stored list), or when it is flagged complete and holds children flagged deleted
 * (they go). Returns LIST | WORK bits.
 */
export function listRule(hasUuid: boolean, text: boolean, flagged: boolean, complete: boolean, children: number, uuidChildren: number, deletedChild: boolean): number {
  const matchable = uuidChildren === children;
  if (hasUuid || text || !(flagged || (children > 0 && matchable))) return 0;
  return (complete ? deletedChild : matchable) ? LIST | WORK : LIST;
}

/** xs:boolean true as the rule reads `sdata:deleteMissing`, `sdata:isDeleted` and `xsi:nil`: `true` or `1`, trimmed. */
export function isXsTrue(v: string): boolean {
  const t = v.trim();
  return t === 'true' || t === '1';
}
