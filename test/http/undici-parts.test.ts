import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

/**
 * The HTTP client loads two files of undici rather than its entry point (src/http/client.ts: the rest of undici is
 * ~3.6 MiB of heap per thread that nothing of ours uses). They must be what the entry point exports: the same Agent
 * class and the same request function it puts on every dispatcher, or an undici update moved them.
 */
const load = createRequire(import.meta.url);

test("the client's undici Agent and request API are the package's own", () => {
  const undici = load('undici') as { Agent: unknown; Dispatcher: { prototype: { request: unknown } } };
  assert.equal(load('undici/lib/dispatcher/agent.js'), undici.Agent);
  assert.equal(load('undici/lib/api/api-request.js'), undici.Dispatcher.prototype.request);
});
