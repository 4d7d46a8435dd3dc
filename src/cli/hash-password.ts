import { DEFAULT_SCRYPT, hashPassword } from '../provider/http/password-hash.ts';
import { SdataError } from '../protocol/errors.ts';
import { parse, parseCount } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const HASH_PASSWORD_HELP = `Usage: sdata-sync hash-password USER [--cost N] < password

Prints the line that gives USER access to 'sdata-sync serve' when put in the file named by SDATA_SERVE_USERS_FILE:

  USER:scrypt$N$r$p$SALT$HASH

The password is read from the terminal (asked twice, not echoed) or, when stdin is not a terminal, from the first
line of stdin. It is never taken from the command line, where shell history and ps would keep it.

Options:
  --cost N     scrypt cost N, a power of two (default ${DEFAULT_SCRYPT.N}: 16 MiB and 50-300 ms per verification)
  -h, --help
`;

export async function hashPasswordCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    cost: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  }, 'hash-password');
  if (values.help) {
    process.stdout.write(HASH_PASSWORD_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new SdataError('SDATA_E_USAGE', "hash-password: give one user name (see 'sdata-sync hash-password --help')");
  const user = positionals[0]!;
  if (user === '' || /[:\s\p{Cc}#]/u.test(user)) throw new SdataError('SDATA_E_USAGE', `hash-password: '${user}' cannot be a user name (no ':', '#', spaces or control characters)`);
  const N = values.cost === undefined ? DEFAULT_SCRYPT.N : parseCount(values.cost, '--cost', 1024);
  if ((N & (N - 1)) !== 0 || N > 2 ** 20) throw new SdataError('SDATA_E_USAGE', `--cost: ${N} is not a power of two between 1024 and ${2 ** 20}`);
  const password = process.stdin.isTTY ? await promptTwice() : await firstLine();
  if (password === '') throw new SdataError('SDATA_E_USAGE', 'hash-password: the password is empty');
  process.stdout.write(`${user}:${hashPassword(password, { ...DEFAULT_SCRYPT, N })}\n`);
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
    if (a !== b) throw new SdataError('SDATA_E_USAGE', 'hash-password: the two passwords differ');
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
        if (ch === '\u0003') return done(new SdataError('SDATA_E_ABORTED', 'hash-password: interrupted'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
