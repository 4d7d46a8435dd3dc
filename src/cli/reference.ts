/**
 * README's command reference, in Markdown, from the declarations that also make --help (commands.ts, help-text.ts).
 * `npm run docs:cli` (scripts/docs-cli.ts) writes it between the markers; test/cli/reference.test.ts fails when
 * README holds anything else there.
 */
import { COMMAND_NAMES, COMMANDS, CONFIG_OPTION, type CommandDecl } from './commands.ts';
import { commandNotes, defaultNote, flagText, usageLine } from './help-text.ts';
import { envOf, type ArgDecl, type Opt } from './option-types.ts';

export const REFERENCE_START = '<!-- cli-reference:start: generated from src/cli/commands.ts by `npm run docs:cli`; edit there -->';
export const REFERENCE_END = '<!-- cli-reference:end -->';

/** Text for a table cell or a paragraph: no raw `|`, `<` or `>`. */
const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const code = (s: string): string => `\`${s.replace(/\|/g, '\\|')}\``;

/** Paragraphs as Markdown: indented lines (examples, lists of operations) as code blocks. */
function prose(text: string): string {
  return text.split('\n\n').map((para) => {
    const out: string[] = [];
    let block: string[] = [];
    const flush = (): void => {
      if (block.length > 0) out.push(`\`\`\`\n${block.join('\n')}\n\`\`\``);
      block = [];
    };
    for (const line of para.split('\n')) {
      if (line.startsWith('  ')) block.push(line.slice(2));
      else {
        flush();
        out.push(md(line));
      }
    }
    flush();
    return out.join('\n');
  }).join('\n\n');
}

function optionRow(key: string, opt: Opt): string {
  const where = opt.cliOnly ? 'command line only' : `${code(envOf(key))}, ${code(key)}`;
  const note = defaultNote(opt);
  return `| ${code(flagText(key, opt))} | ${where} | ${note ? md(note.replace(/^default:? /, '')) : ''} | ${md(opt.help)} |`;
}

function commandSection(name: string, decl: CommandDecl): string {
  const lines = [`### sdata-sync ${name}`, '', code(`sdata-sync ${name} ${usageLine(decl)}`), '', prose(decl.description ?? decl.summary), ''];
  const args = Object.values<ArgDecl>(decl.args ?? {});
  if (args.length > 0) {
    lines.push('| argument | |', '|---|---|');
    for (const a of args) lines.push(`| ${code(a.variadic ? `${a.name} ...` : a.name)} | ${md(a.opt.help)}${a.required ? '' : ' (optional)'} |`);
    lines.push('');
  }
  lines.push('| option | environment, config key | default | |', '|---|---|---|---|');
  for (const [key, opt] of Object.entries<Opt>(decl.options)) lines.push(optionRow(key, opt));
  lines.push(`| ${code('--config FILE')} | ${code('SDATA_SYNC_CONFIG')} | | ${md(CONFIG_OPTION.help.replace(/; also SDATA_SYNC_CONFIG$/, ''))} |`, '');
  const notes = commandNotes(name, decl).split('\n\n').slice(name === 'config' ? 0 : 1).join('\n\n');
  if (notes) lines.push(prose(notes), '');
  return lines.join('\n');
}

/** The reference, markers included. */
export function cliReference(): string {
  const table = ['| command | what it does |', '|---|---|',
    ...COMMAND_NAMES.map((n) => `| [${code(`sdata-sync ${n}`)}](#sdata-sync-${n}) | ${md(COMMANDS[n].summary)} |`)];
  return [REFERENCE_START, '', ...table, '', ...COMMAND_NAMES.map((n) => commandSection(n, COMMANDS[n])), REFERENCE_END].join('\n');
}
