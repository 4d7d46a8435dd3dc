/**
 * `sdata-sync health URL`: one GET, for container health checks (every few seconds: it must start fast and small).
 * node:http or node:https only, loaded for the URL's scheme; no undici, no retry, no redirect. 200 within the timeout
 * is exit 0; no answer (refused, reset, DNS, timeout) is SDATA_E_NETWORK (exit 5); any other status SDATA_E_HTTP
 * (exit 6). Credentials only when asked for (--auth source|target): a provider's $health is meant to be open.
 */
import type { IncomingMessage } from 'node:http';
import { authorizationFromEnv, credentialHint } from '../http/auth.ts';
import { redactUrl } from '../http/url.ts';
import { SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { EXIT } from './exit-codes.ts';

export async function run({ values, args }: Input<typeof COMMANDS.health>): Promise<number> {
  const url = new URL(args.url);
  const side = values.auth === 'none' ? undefined : values.auth;
  const authorization = side === undefined ? undefined : authorizationFromEnv(side);
  const shown = redactUrl(args.url);
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const started = performance.now();
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      // No keep-alive: the process ends as soon as the answer is in.
      agent: false,
      headers: { accept: 'application/json', 'user-agent': 'sdata-sync health', ...(authorization === undefined ? {} : { authorization }) },
      signal: AbortSignal.timeout(values.timeout),
    }, resolve);
    req.on('error', (e: NodeJS.ErrnoException) => {
      const what = e.name === 'AbortError' || e.code === 'ABORT_ERR' ? `no answer within ${values.timeout / 1000} s` : `${e.code ?? e.name}: ${e.message}`;
      reject(new SdataError('SDATA_E_NETWORK', `GET ${shown}: ${what}`, { url: args.url, cause: e }));
    });
    req.end();
  });
  res.resume();
  const ms = Math.round(performance.now() - started);
  if (res.statusCode !== 200) {
    const hint = res.statusCode === 401 || res.statusCode === 403
      ? `; ${side === undefined ? 'no credentials were sent (--auth source|target sends them)' : credentialHint(side, authorization !== undefined)}` : '';
    throw new SdataError('SDATA_E_HTTP', `GET ${shown}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd() + hint, { url: args.url, status: res.statusCode });
  }
  if (!values.quiet) process.stdout.write(`${shown}: 200 in ${ms} ms\n`);
  return EXIT.OK;
}
