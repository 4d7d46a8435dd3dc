import { SdataError } from '../protocol/errors.ts';

export type Side = 'source' | 'target';

/** Credentials for one side: a Bearer token, or a user and password for Basic. */
export type Credentials = { token: string } | { user: string; password: string };

/** The Authorization header value for `c`; `what` names where the user came from, for the message. */
export function authorizationFor(c: Credentials, what: string): string {
  if ('token' in c) return `Bearer ${c.token}`;
  if (c.user.includes(':')) throw new SdataError('SDATA_E_USAGE', `${what} must not contain ':' (Basic authentication)`);
  return `Basic ${Buffer.from(`${c.user}:${c.password}`, 'utf8').toString('base64')}`;
}

/**
 * Credentials come from the environment only (never argv, never logged): `SDATA_<SIDE>_TOKEN` gives Bearer,
 * `SDATA_<SIDE>_USER` + `SDATA_<SIDE>_PASSWORD` give Basic. Returns the Authorization header value, if any.
 */
export function authorizationFromEnv(side: Side, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const p = `SDATA_${side.toUpperCase()}_`;
  const token = env[`${p}TOKEN`];
  const user = env[`${p}USER`];
  const password = env[`${p}PASSWORD`];
  if (token !== undefined && token !== '') {
    if (user !== undefined && user !== '') {
      throw new SdataError('SDATA_E_USAGE', `both ${p}TOKEN and ${p}USER are set; choose Bearer or Basic for the ${side}`);
    }
    return authorizationFor({ token }, `${p}TOKEN`);
  }
  if (user !== undefined && user !== '') return authorizationFor({ user, password: password ?? '' }, `${p}USER`);
  if (password !== undefined && password !== '') {
    throw new SdataError('SDATA_E_USAGE', `${p}PASSWORD is set without ${p}USER`);
  }
  return undefined;
}
