/**
 * A uuid as the protocol compares it: trimmed, lower case (spec core 3.8 writes them so; a sender may not). Most are
 * written so already: a loop tells, and the string is returned as it is, without a new one (verify and the canonical
 * form call this for every resource and child).
 */
export function uuidKey(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c <= 32 || c > 126) return v.trim().toLowerCase();
  }
  return v;
}
