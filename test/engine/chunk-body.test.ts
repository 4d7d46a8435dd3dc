import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileWriter, FramedBody, MemoryWriter, type BodyWriter, type ChunkBody } from '../../src/engine/chunk-body.ts';

async function bytesOf(b: ChunkBody): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of b.open()) out.push(c as Buffer);
  return Buffer.concat(out);
}

// Pieces of every size around the 64 KiB piece boundary, with 2-, 3- and 4-byte UTF-8 characters.
const pieces: string[] = [];
for (let i = 0; i < 3000; i++) pieces.push(('ünïcödé😀€' + 'x'.repeat(i % 97)).repeat(1 + (i % 13)) + (i % 500 === 0 ? 'y'.repeat(70_000) : ''));
const want = Buffer.from(pieces.join(''));

describe('chunk bodies', () => {
  for (const [name, make] of [['memory', () => new MemoryWriter()], ['file', (dir: string) => new FileWriter(join(dir, 'c.xml'))]] as const) {
    it(`${name}: the bytes written, exactly, replayable any number of times`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sdata-body-'));
      try {
        const w: BodyWriter = make(dir);
        for (const p of pieces) {
          w.write(p);
          if (w.needsDrain) await w.drained();
        }
        const body = await w.finish();
        assert.equal(body.size, want.length);
        assert.ok((await bytesOf(body)).equals(want));
        assert.ok((await bytesOf(body)).equals(want), 'a retry re-sends the identical body');
        // A head decided after the entries (it says whether the chunk is the last) goes before them, every time.
        // Its digest element as bytes between two texts, as the planner makes it.
        const digest = Buffer.from('<sync:digest><sync:origin>ü</sync:origin></sync:digest>');
        const framed = new FramedBody(['<feed>😀<link rel="next" href="x#chunk-000002"/>', digest, '\n'], body, '</feed>\n');
        const whole = Buffer.concat([Buffer.from('<feed>😀<link rel="next" href="x#chunk-000002"/>'), digest, Buffer.from('\n'), want, Buffer.from('</feed>\n')]);
        assert.equal(framed.size, whole.length);
        assert.ok((await bytesOf(framed)).equals(whole));
        assert.ok((await bytesOf(framed)).equals(whole), 'and on a retry');
        await framed.release();
        if (name === 'file') await assert.rejects(stat(join(dir, 'c.xml')), /ENOENT/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it(`${name}: strings and UTF-8 bytes (a scanned piece's entries) mixed, across piece boundaries`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sdata-body-'));
      try {
        const w: BodyWriter = make(dir);
        for (const [i, p] of pieces.entries()) {
          if (i % 3 === 0) w.write(p);
          else {
            const b = Buffer.from(p);
            // A view into a larger buffer, as a batch's entries are.
            const view = Buffer.concat([Buffer.from('<<'), b, Buffer.from('>>')]).subarray(2, 2 + b.length);
            w.writeBytes!(view);
          }
          if (w.needsDrain) await w.drained();
        }
        const body = await w.finish();
        assert.equal(body.size, want.length);
        assert.ok((await bytesOf(body)).equals(want));
        await body.release();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
