// Hostile inputs through `plan` as users run it (the bin, its heap flags), on one thread and on two: each is refused
// (or its one bad entry skipped) with the exit code and the message that names the limit and its flag, in bounded
// memory. The inputs are generated while the child reads them, far larger than the limit they cross (a 1 GiB
// attribute value, 100 MB of text between entries…): that the child ends at all, and early, is the work bound — a
// reader that went on would take the test's timeout. scripts/hostile.ts runs the same inputs larger.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCliMeasured } from '../helpers/cli.ts';
import { page } from '../helpers/feeds.ts';
import { HOSTILE, RSS_BOUND_KIB } from '../helpers/hostile.ts';

for (const threads of [1, 2]) {
  describe(`plan --threads ${threads} refuses hostile input in bounded memory`, () => {
    for (const h of HOSTILE) {
      it(`${h.name}: ${h.what}`, async () => {
        const r = await runCliMeasured(['plan', '--threads', String(threads), ...(h.flags ?? [])], h.feed(1));
        assert.equal(r.code, h.exit, r.stderr);
        assert.match(r.stderr, h.message);
        if (h.exit !== 0) assert.match(r.stderr, /^sdata-sync plan: <stdin>:\d+:\d+: /m, 'a position');
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.ok(r.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${r.maxRssKiB} KiB`);
      });
    }
  });
}

describe('the flag a refusal names raises its limit', () => {
  it('--max-depth, --max-attributes, --max-text-between-entries; a bad value is a usage error', async () => {
    const nest = (n: number): string => '<d>'.repeat(n) + '</d>'.repeat(n);
    const doc = (body: string, between = ''): Buffer => Buffer.from(page({ entries: [{ endpoint: 'http://a/x', tick: 1, body }, { endpoint: 'http://a/x', tick: 2 }] })
      .replace('</entry>\n', `</entry>\n${between}`));
    const cases: Array<[Buffer, string[]]> = [
      [doc(nest(300)), ['--max-depth', '400']],
      [doc(`<x${Array.from({ length: 1100 }, (_, k) => ` a${k}=""`).join('')}/>`), ['--max-attributes', '2000']],
      [doc('', ' '.repeat(1_100_000)), ['--max-text-between-entries', '2MiB']],
    ];
    for (const [input, flags] of cases) {
      const refused = await runCliMeasured(['plan', '--threads', '1'], [input]);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, new RegExp(`raise it with ${flags[0]}\\)`));
      const raised = await runCliMeasured(['plan', '--threads', '1', ...flags], [input]);
      assert.equal(raised.code, 0, raised.stderr);
      assert.match(raised.stderr, /"forwarded":2/);
    }
    const usage = await runCliMeasured(['plan', '--max-depth', 'deep'], []);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--max-depth: expected a whole number ≥ 1, got "deep"/);
  });
});
