import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
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
