import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { parseUsersFile } from '../../src/provider/http/auth.ts';
import { parsePasswordHash, verifyPassword } from '../../src/provider/http/password-hash.ts';
import { oracleTest } from '../helpers/oracle.ts';
import { BIN, BIN_FLAGS, NODE, runCli } from '../helpers/cli.ts';

/** `sdata-sync hash-password USER`: the users-file line, from a password on stdin or typed at a prompt without echo. */

test('hash-password reads the first line of stdin and prints a users-file line that verifies', async () => {
  const r = await runCli(['hash-password', 'alice', '--cost', '1024'], { stdin: 'pässwörd with spaces\nsecond line ignored\n' });
  assert.equal(r.code, 0, r.stderr);
  const users = parseUsersFile(r.stdout, 'stdout');
  const h = parsePasswordHash(users.get('alice')!);
  assert.equal(h.N, 1024);
  assert.equal(await verifyPassword('pässwörd with spaces', h), true);
  assert.equal(await verifyPassword('second line ignored', h), false);
  assert.ok(!r.stdout.includes('pässwörd') && !r.stderr.includes('pässwörd'));
  // The default cost, and a fresh salt each time.
  const d1 = await runCli(['hash-password', 'bob'], { stdin: 'pw' });
  const d2 = await runCli(['hash-password', 'bob'], { stdin: 'pw' });
  assert.match(d1.stdout, /^bob:scrypt\$16384\$8\$1\$/);
  assert.notEqual(d1.stdout, d2.stdout);
});

test('hash-password refuses: no user, a user name the file cannot hold, an empty password, a bad cost, a password in argv', async () => {
  for (const [args, stdin, msg] of [
    [['hash-password'], 'pw', /missing USER/],
    [['hash-password', 'a:b'], 'pw', /USER: expected a user name \(no ':', '#', spaces or control characters\), got "a:b"/],
    [['hash-password', 'a b'], 'pw', /USER: expected a user name .*got "a b"/],
    [['hash-password', 'alice'], '\n', /password is empty/],
    [['hash-password', 'alice', '--cost', '1000'], 'pw', /--cost: expected a whole number within 1024\.\.1048576/],
    [['hash-password', 'alice', '--cost', '3000'], 'pw', /not a power of two/],
    [['hash-password', 'alice', '--password', 'pw'], '', /unknown option '--password'; secrets are never read from the command line/],
    [['hash-password', 'alice', 'pw'], '', /unexpected argument 'pw'/],
  ] as const) {
    const r = await runCli([...args], { stdin });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stdout, '');
  }
});

// On a terminal: asked twice, nothing echoed. Python's pty module gives the command a real terminal.
const PTY = String.raw`
import os, pty, sys
node, args, pw1, pw2 = sys.argv[1], sys.argv[2].split('\x1f'), sys.argv[3], sys.argv[4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(node, [node] + args)
out = b''
def until(marker):
    global out
    while marker not in out:
        out += os.read(fd, 4096)
until(b'Password: ')
os.write(fd, pw1.encode() + b'\r')
until(b'Again: ')
os.write(fd, pw2.encode() + b'\r')
try:
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
except OSError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

function onTerminal(pw1: string, pw2: string): { code: number | null; out: string } {
  const args = [...BIN_FLAGS, BIN, 'hash-password', 'carol', '--cost', '1024'].join('\x1f');
  const r = spawnSync('python3', ['-c', PTY, NODE, args, pw1, pw2], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

oracleTest('hash-password on a terminal (python3 pty): prompts twice without echo; two different passwords are refused', ['expat'], async () => {
  const ok = onTerminal('tty secret 1', 'tty secret 1');
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /Password: [\s\S]*Again: /);
  assert.ok(!ok.out.includes('tty secret'), `the password was echoed: ${JSON.stringify(ok.out)}`);
  const line = /carol:\S+/.exec(ok.out)![0];
  assert.equal(await verifyPassword('tty secret 1', parsePasswordHash(parseUsersFile(line, 'tty').get('carol')!)), true);
  const differ = onTerminal('one', 'two');
  assert.equal(differ.code, 2, differ.out);
  assert.match(differ.out, /the two passwords differ/);
});
