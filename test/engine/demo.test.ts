import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const BIN = join(import.meta.dirname, '../../bin/sdata-sync.mjs');

describe('sdata-sync demo (npm start)', () => {
  it('catches up, resolves a real conflict, converges, and ends with a pass that sends nothing', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'demo', '--count', '1500', '--progress', 'none'], { maxBuffer: 16 << 20 });
    assert.match(stdout, /first catch-up/);
    assert.match(stdout, /accounts\s+1,500\s+0\s+1,500\s+1,500\s/);
    assert.match(stdout, /conflict: 1 won by crm/);
    assert.match(stdout, /== converged: crm and erp hold the same 1,499 accounts/);
    assert.match(stdout, /nothing was sent; open contexts on the providers: 0/);
    assert.match(stdout, /sdata-sync run --source/);
  });
});
