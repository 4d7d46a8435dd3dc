import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { isSdataError } from '../../src/protocol/errors.ts';
import { TextSink } from '../../src/xml/text-sink.ts';
import { prng } from '../helpers/feeds.ts';

const PIECES = ['<a>', 'plain ascii text', 'é', 'Zürich', '東京', '😀', '🇫🇷', '𝄞 and more', '', 'x'.repeat(5000), '&amp;', '\n'];

function collector(): { stream: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, chunks };
}

test('TextSink hands the stream exactly the UTF-8 of what was written, whatever the buffer size', async () => {
  const rnd = prng(7);
  for (const size of [16, 17, 100, 4096, 64 * 1024]) {
    const { stream, chunks } = collector();
    const sink = new TextSink(stream, size);
    const written: string[] = [];
    for (let k = 0; k < 3000; k++) {
      const s = PIECES[Math.floor(rnd() * PIECES.length)]!;
      written.push(s);
      // Text already encoded elsewhere (entries decided on plan's helper thread) is mixed with strings.
      if (rnd() < 0.3) sink.writeBytes(Buffer.from(s, 'utf8'));
      else sink.write(s);
    }
    await sink.end();
    const want = Buffer.from(written.join(''), 'utf8');
    const got = Buffer.concat(chunks);
    assert.ok(got.equals(want), `flushAt ${size}`);
    assert.equal(sink.bytes, want.length);
    for (const c of chunks) assert.ok(c.length <= Math.max(size, 5000 * 3), 'writes stay about the buffer size');
  }
});

test('TextSink reports backpressure and resumes after drain', async () => {
  let calls = 0;
  const pending: Array<() => void> = [];
  const slow = new Writable({
    highWaterMark: 1024,
    write(_c, _e, cb) {
      calls++;
      pending.push(cb);
    },
  });
  const sink = new TextSink(slow, 2048);
  let ok = true;
  for (let k = 0; k < 200 && ok; k++) ok = sink.write('0123456789abcdef'.repeat(4));
  assert.equal(ok, false, 'write() says wait once the stream is over its highWaterMark');
  assert.equal(sink.needsDrain, true);
  const d = sink.drained();
  while (pending.length) pending.shift()!();
  await d;
  assert.equal(sink.needsDrain, false);
  assert.ok(calls >= 1);
});

test('TextSink: a file that cannot be written fails the next write, flush or wait with SDATA_E_IO naming it, never an uncaught error event', { skip: process.platform !== 'linux' && 'needs /dev/full' }, async () => {
  // /dev/full refuses every write (ENOSPC), as a full disk does; without a listener the stream's 'error' ended the
  // process with a stack trace (plan --out-dir on a full disk).
  const stream = createWriteStream('/dev/full');
  const sink = new TextSink(stream, 64);
  // Longer than the sink's buffer: handed to the stream at once; the failed write destroys the stream.
  sink.write('x'.repeat(200));
  await new Promise<void>((r) => stream.once('close', () => r()));
  await assert.rejects(sink.drained(), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_IO' && e.message === '/dev/full: cannot write: ENOSPC');
  assert.throws(() => sink.flush(), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_IO');
});

test('TextSink: another stream\'s error is passed on as it is', async () => {
  const broken = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('gone'), { code: 'EPIPE' })) });
  const sink = new TextSink(broken, 16);
  sink.write('x'.repeat(40));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(sink.drained(), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EPIPE');
});

test('TextSink: sinks one after another on one long-lived stream leave one error listener on it, and share its failure', async () => {
  // A listener per sink piled up on a shared stream (the plan bench's in-process planners: MaxListenersExceededWarning).
  const chunks: Buffer[] = [];
  const shared = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
  const before = shared.listenerCount('error');
  for (let k = 0; k < 20; k++) {
    const sink = new TextSink(shared, 16);
    sink.write(`${k};`);
    sink.flush();
    await sink.drained();
  }
  assert.equal(shared.listenerCount('error'), before + 1);
  assert.equal(Buffer.concat(chunks).toString(), Array.from({ length: 20 }, (_, k) => `${k};`).join(''));
  // A stream that failed under one sink fails the next one too.
  const broken = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('gone'), { code: 'EPIPE' })) });
  const first = new TextSink(broken, 16);
  first.write('x'.repeat(40));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(first.drained(), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EPIPE');
  const second = new TextSink(broken, 16);
  assert.throws(() => second.flush(), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EPIPE');
});
