import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JoinFile } from '../../src/engine/link/join-file.ts';

/** link's scratch file: rows of both sides grouped by key in key order, a bounded number held per group. */

test('groups by key in key order, both sides together; keyless rows alone; counts beyond `keep`; uuid holders; deleted when closed', () => {
  const parent = mkdtempSync(join(tmpdir(), 'sdata-join-'));
  try {
    const j = new JoinFile(parent);
    const add = (side: 0 | 1, k: string | undefined, n: number, uuid?: string): void => j.add(side, k, { url: `u${side}-${n}`, uuid, key: undefined });
    for (let i = 0; i < 25; i++) add(0, 'many', i);
    add(1, 'b', 1, 'UU-1');
    add(0, 'b', 2);
    add(0, undefined, 3);
    add(1, undefined, 4);
    add(0, 'a', 5, 'uu-2');
    j.finish();
    assert.equal(j.rows, 30);
    const groups = [...j.groups(3)];
    assert.deepEqual(groups.map((g) => [g.key, g.counts, g.rows[0].length, g.rows[1].length]), [
      [undefined, [1, 0], 1, 0], [undefined, [0, 1], 0, 1], ['a', [1, 0], 1, 0], ['b', [1, 1], 1, 1], ['many', [25, 0], 3, 0],
    ]);
    assert.deepEqual(groups[3]!.rows[1], [{ side: 1, url: 'u1-1', uuid: 'UU-1', key: undefined }]);
    assert.deepEqual(j.holders(1, 'uu-1'), ['u1-1']);
    assert.deepEqual(j.holders(0, 'UU-2'), ['u0-5']);
    assert.deepEqual(j.holders(0, 'uu-1'), []);
    j.close();
    assert.equal(existsSync(j.dir), false);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
