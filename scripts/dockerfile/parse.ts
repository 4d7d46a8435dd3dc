/**
 * A Dockerfile as the builder reads it (the reference's syntax): parser directives, comments, `\` continuations,
 * instructions with their `--flags`, exec form (a JSON array) or shell form, and variable substitution for the
 * instructions that take it. No I/O; the replay (build.ts) gives meaning to each instruction.
 */

export interface Instruction {
  /** Upper-case keyword. */
  op: string;
  /** 1-based line where the instruction starts. */
  line: number;
  /** `--name=value` options before the arguments (a repeated one keeps every value). */
  flags: Map<string, string[]>;
  /** The arguments as written (continuations joined), after the flags. */
  args: string;
}

export class DockerfileError extends Error {
  constructor(line: number, message: string) {
    super(`Dockerfile:${line}: ${message}`);
  }
}

export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const out: Instruction[] = [];
  let i = 0;
  // Parser directives (`# syntax=…`) are comments of a special form, only at the very top: nothing to do.
  for (; i < lines.length && /^#\s*\w+\s*=/.test(lines[i]!); i++);
  while (i < lines.length) {
    const start = i;
    let text = '';
    for (;;) {
      const l = lines[i++] ?? '';
      // Comment lines are dropped, also between the lines of one instruction.
      if (/^\s*#/.test(l)) {
        if (text === '') break;
        continue;
      }
      if (l.endsWith('\\')) {
        text += `${l.slice(0, -1)} `;
        if (i >= lines.length) break;
        continue;
      }
      text += l;
      break;
    }
    const t = text.trim();
    if (t === '') continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(t)!;
    const flags = new Map<string, string[]>();
    let rest = m[2]!;
    for (;;) {
      const f = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest);
      if (!f) break;
      flags.set(f[1]!, [...(flags.get(f[1]!) ?? []), f[2] ?? '']);
      rest = rest.slice(f[0].length);
    }
    out.push({ op: m[1]!.toUpperCase(), line: start + 1, flags, args: rest.trim() });
  }
  return out;
}

/** The exec form's words, or undefined for the shell form. */
export function execForm(ins: Instruction, args = ins.args): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    throw new DockerfileError(ins.line, `${ins.op}: not a JSON array of strings: ${args}`);
  }
  if (!Array.isArray(v) || !v.every((w) => typeof w === 'string')) throw new DockerfileError(ins.line, `${ins.op}: not a JSON array of strings: ${args}`);
  return v;
}

/** `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alt}` as the builder expands them (`\$` is a literal `$`). */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\\\$|\$\{(\w+)(?::([-+])([^}]*))?\}|\$(\w+)/g, (all, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
    if (all === '\\$') return '$';
    const v = vars.get(braced ?? bare!);
    if (op === '-') return v === undefined || v === '' ? word! : v;
    if (op === '+') return v === undefined || v === '' ? '' : word!;
    return v ?? '';
  });
}

/**
 * `KEY=value KEY2="quoted value"` pairs (ENV, LABEL, ARG): double or single quotes, backslash escapes. The legacy
 * `ENV KEY value` form (one pair, the rest of the line) as well.
 */
export function pairs(ins: Instruction, text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!/^[\w.-]+=/.test(text)) {
    const m = /^([\w.-]+)\s+([\s\S]*)$/.exec(text);
    if (!m || ins.op !== 'ENV') throw new DockerfileError(ins.line, `${ins.op}: expected KEY=value pairs: ${text}`);
    return [[m[1]!, m[2]!]];
  }
  let s = text;
  while (s !== '') {
    const k = /^([\w.-]+)=/.exec(s);
    if (!k) throw new DockerfileError(ins.line, `${ins.op}: expected KEY=value at: ${s}`);
    s = s.slice(k[0].length);
    let v = '';
    while (s !== '' && !/^\s/.test(s)) {
      const q = s[0];
      if (q === '"' || q === "'") {
        const end = s.indexOf(q, 1);
        if (end < 0) throw new DockerfileError(ins.line, `${ins.op}: unterminated quote in ${k[1]}`);
        v += q === '"' ? s.slice(1, end).replace(/\\(.)/g, '$1') : s.slice(1, end);
        s = s.slice(end + 1);
      } else if (s[0] === '\\' && s.length > 1) {
        v += s[1];
        s = s.slice(2);
      } else {
        v += s[0];
        s = s.slice(1);
      }
    }
    out.push([k[1]!, v]);
    s = s.trimStart();
  }
  return out;
}

/** Shell-like words of a line (COPY sources, VOLUME in shell form, USER): whitespace-separated, quotes removed. */
export function words(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}
