import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withRetry, type RetryNotice } from '../../src/http/retry.ts';
import { heldClock, instantClock } from '../helpers/clock.ts';

const policy = { retries: 3, baseMs: 10, maxMs: 25, maxRetryAfterMs: 50 };
const transient = (e: unknown) => ((e as Error).message === 'reset' ? { reason: 'reset' } : undefined);

describe('withRetry', () => {
  it('retries what classify accepts, with full-jitter backoff capped at maxMs, and reports each retry', async () => {
    const clock = instantClock();
    const notices: RetryNotice[] = [];
    let refetched = 0;
    const v = await withRetry(async (n) => {
      if (n < 3) throw new Error('reset');
      return `done after ${n}`;
    }, { policy, clock, classify: transient, onRetry: (x) => notices.push(x), beforeRetry: async () => void refetched++ });
    assert.equal(v, 'done after 3');
    assert.deepEqual(clock.waits, [10, 20, 25]);
    assert.deepEqual(notices, [
      { attempt: 1, delayMs: 10, reason: 'reset' }, { attempt: 2, delayMs: 20, reason: 'reset' }, { attempt: 3, delayMs: 25, reason: 'reset' },
    ]);
    assert.equal(refetched, 3);
  });

  it('gives up after policy.retries further attempts, or at once on a failure classify refuses', async () => {
    let attempts = 0;
    await assert.rejects(withRetry(async () => {
      attempts++;
      throw new Error('reset');
    }, { policy, clock: instantClock(), classify: transient, giveUp: (e, retries) => new Error(`${(e as Error).message} (after ${retries} retries)`) }),
    { message: 'reset (after 3 retries)' });
    assert.equal(attempts, 4);
    attempts = 0;
    await assert.rejects(withRetry(async () => {
      attempts++;
      throw new Error('refused');
    }, { policy, clock: instantClock(), classify: transient }), { message: 'refused' });
    assert.equal(attempts, 1);
  });

  it('retries a value that asks for it (Retry-After honoured up to its cap), returns the last one as it is', async () => {
    const clock = instantClock();
    const discarded: number[] = [];
    const v = await withRetry(async (n) => n, {
      policy, clock, classify: () => undefined,
      retryValue: (n) => ({ reason: `busy ${n}`, retryAfterMs: n === 0 ? 0 : 1000 }),
      discard: async (n) => void discarded.push(n),
    });
    assert.equal(v, 3);
    assert.deepEqual(discarded, [0, 1, 2]);
    assert.deepEqual(clock.waits, [0, 50, 50]);
  });

  it('an abort during a wait ends the loop at once with aborted(): no further attempt, no re-fetch', async () => {
    const clock = heldClock();
    const ac = new AbortController();
    let attempts = 0;
    let refetched = 0;
    const p = withRetry(async () => {
      attempts++;
      throw new Error('reset');
    }, { policy, clock, signal: ac.signal, classify: transient, aborted: () => new Error('interrupted'), beforeRetry: async () => void refetched++ });
    await clock.waiting;
    ac.abort();
    await assert.rejects(p, { message: 'interrupted' });
    assert.equal(attempts, 1);
    assert.equal(refetched, 0);
    assert.deepEqual(clock.waits, [10]);
  });

  it('an abort ends the loop before an attempt, and turns the failure of an aborted attempt into aborted()', async () => {
    const ac = new AbortController();
    ac.abort(new Error('the signal said so'));
    let attempts = 0;
    await assert.rejects(withRetry(async () => void attempts++, { policy, signal: ac.signal, classify: transient }), { message: 'the signal said so' });
    assert.equal(attempts, 0);
    const ac2 = new AbortController();
    let classified = 0;
    await assert.rejects(withRetry(async () => {
      ac2.abort();
      throw new Error('reset');
    }, { policy, signal: ac2.signal, classify: (e) => (classified++, transient(e)), aborted: () => new Error('interrupted') }), { message: 'interrupted' });
    assert.equal(classified, 0);
  });

  it('returns what an attempt that outlived an abort produced (the caller must still clean it up)', async () => {
    const ac = new AbortController();
    const v = await withRetry(async () => {
      ac.abort();
      return 'a context was created';
    }, { policy, signal: ac.signal, classify: transient });
    assert.equal(v, 'a context was created');
  });

  it('a failed re-fetch ends the loop as it is, without being retried here', async () => {
    let attempts = 0;
    await assert.rejects(withRetry(async () => {
      attempts++;
      throw new Error('reset');
    }, { policy, clock: instantClock(), classify: transient, beforeRetry: async () => {
      throw new Error('reset');
    } }), { message: 'reset' });
    assert.equal(attempts, 1);
  });
});
