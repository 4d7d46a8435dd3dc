// Tables from a V8 .cpuprofile (`node --cpu-prof`): self time per source file and per function, inclusive time of
// our own functions. Used by scripts/profile.ts (plan) and bench/e2e.ts --profile (the three processes of a sync).
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Sampled time that was not idle (the worker or main thread that did the work has the most). */
export function busyMicros(p: CpuProfile): number {
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let t = 0;
  for (let k = 0; k < p.samples.length; k++) if (!idle.has(p.samples[k]!)) t += p.timeDeltas[k] ?? 0;
  return t;
}

/** Self time per function and per file from a V8 .cpuprofile, as printable tables. */
export function summarise(p: CpuProfile, top: number, root: string): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  for (let k = 0; k < p.samples.length; k++) {
    const dt = p.timeDeltas[k] ?? 0;
    self.set(p.samples[k]!, (self.get(p.samples[k]!) ?? 0) + dt);
    total += dt;
  }
  const where = (url: string): string => {
    if (!url) return '(native/VM)';
    const i = url.indexOf('/node_modules/');
    if (i >= 0) return url.slice(i + 14);
    if (url.startsWith('node:')) return url;
    try {
      return relative(root, fileURLToPath(url));
    } catch {
      return url;
    }
  };
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const f = where(n.callFrame.url);
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${f}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + t);
    const group = f.startsWith('saxes/') ? 'saxes' : f.startsWith('xmlchars/') ? 'xmlchars' : f;
    file.set(group, (file.get(group) ?? 0) + t);
  }
  // Inclusive time of our own functions (self + callees), counted once per sample even under recursion.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  const label = (n: CpuNode): string => `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!n.callFrame.url.includes('/src/')) continue;
      const k = label(n);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + t);
    }
  }
  const pct = (t: number): string => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
  const rows = (m: Map<string, number>, n: number): string =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `  ${pct(t)}  ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`).join('\n');
  return `self time by source (total ${(total / 1e6).toFixed(2)} s sampled):\n${rows(file, 15)}\n\n` +
    `self time by function (top ${top}):\n${rows(fn, top)}\n` +
    (incl.size > 0 ? `\ninclusive time of src/ functions (top 15):\n${rows(incl, 15)}\n` : '');
}
