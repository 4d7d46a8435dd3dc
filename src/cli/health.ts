/**
 * `sdata-sync health URL`: one GET, for container health checks (every few seconds: it must start fast and small).
 * node:http or node:https only, loaded for the URL's scheme; no undici, no retry, no redirect. 200 within the timeout
 * is exit 0; no answer (refused, reset, DNS, timeout) is SDATA_E_NETWORK (exit 5); any other status SDATA_E_HTTP
 * (exit 6). Credentials only when asked for: --auth source|target sends that side's; --auth serve the first of the
 * provider's own tokens (SDATA_SERVE_TOKEN, when set), for a probe run beside `serve` in its container, where a
 * provider with tokens asks for one on every URL, $health too.
 */
import type { IncomingMessage } from 'node:http';
import { authorizationFor, authorizationFromEnv, credentialHint } from '../http/auth.ts';
import { redactUrl } from '../http/url.ts';
import { SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { EXIT } from './exit-codes.ts';

export async function run({ values, args }: Input<typeof COMMANDS.health>): Promise<number> {
  const url = new URL(args.url);
  const authorization = values.auth === 'none' ? undefined : values.auth === 'serve' ? await serveToken() : authorizationFromEnv(values.auth);
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
    const hint = res.statusCode === 401 || res.statusCode === 403 ? `; ${refusedHint(values.auth, authorization !== undefined)}` : '';
    throw new SdataError('SDATA_E_HTTP', `GET ${shown}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd() + hint, { url: args.url, status: res.statusCode });
  }
  if (!values.quiet) process.stdout.write(`${shown}: 200 in ${ms} ms\n`);
  return EXIT.OK;
}

/** After a 401 or 403: what was sent, and where it came from. */
function refusedHint(auth: Input<typeof COMMANDS.health>['values']['auth'], sent: boolean): string {
  if (auth === 'none') return 'no credentials were sent (--auth source|target sends them)';
  if (auth !== 'serve') return credentialHint(auth, sent);
  return sent ? 'the provider refused the first token of SDATA_SERVE_TOKEN' : 'SDATA_SERVE_TOKEN is not set: no token was sent';
}

/** `--auth serve`: the first of the provider's tokens, as `serve` reads them (checked the same way). */
async function serveToken(): Promise<string | undefined> {
  const { parseTokens } = await import('../provider/http/auth.ts');
  const token = parseTokens(process.env['SDATA_SERVE_TOKEN'])[0];
  return token === undefined ? undefined : authorizationFor({ token }, 'SDATA_SERVE_TOKEN');
}
