import { DEFAULT_SCRYPT, hashPassword } from '../provider/http/password-hash.ts';
import { SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync hash-password USER`: options and help in commands.ts. The password never comes from argv. */
export async function run({ values, args }: Input<(typeof COMMANDS)['hash-password']>): Promise<number> {
  const password = process.stdin.isTTY ? await promptTwice() : await firstLine();
  if (password === '') throw new SdataError('SDATA_E_USAGE', 'the password is empty');
  process.stdout.write(`${args.user}:${hashPassword(password, { ...DEFAULT_SCRYPT, N: values.cost })}\n`);
  return EXIT.OK;
}

async function firstLine(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
}

async function promptTwice(): Promise<string> {
  const input = process.stdin;
  // Echo off before the first prompt appears, and until after the second: typed-ahead characters are not shown either.
  input.setRawMode(true);
  try {
    const a = await prompt('Password: ');
    const b = await prompt('Again: ');
    if (a !== b) throw new SdataError('SDATA_E_USAGE', 'the two passwords differ');
    return a;
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}

/** One line from the terminal (in raw mode: nothing is echoed); the prompt on stderr. */
function prompt(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (e?: Error): void => {
      input.off('data', onData);
      process.stderr.write('\n');
      if (e) reject(e);
      else resolve(text);
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new SdataError('SDATA_E_ABORTED', 'interrupted'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
