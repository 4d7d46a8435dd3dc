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

/** The environment variables that hold a side's credentials, in the order the messages name them. */
export function credentialVariables(side: Side): { token: string; user: string; password: string } {
  const p = `SDATA_${side.toUpperCase()}_`;
  return { token: `${p}TOKEN`, user: `${p}USER`, password: `${p}PASSWORD` };
}

/**
 * Said after a 401 or 403: which variables to check. `sent` is what the request carried: the side's Authorization
 * (then the provider refused it) or nothing (then the variables were not set). A client that does not know its
 * side names both.
 */
export function credentialHint(side: Side | undefined, sent: boolean): string {
  if (side === undefined) return 'credentials come from SDATA_SOURCE_TOKEN or SDATA_SOURCE_USER/SDATA_SOURCE_PASSWORD for a source, SDATA_TARGET_… for a target';
  const c = credentialVariables(side);
  return sent
    ? `the provider refused the ${side} credentials from ${c.token} or ${c.user}/${c.password}`
    : `no ${side} credentials were sent: set ${c.token} (Bearer), or ${c.user} and ${c.password} (Basic)`;
}

/**
 * Credentials come from the environment only (never argv, never logged): `SDATA_<SIDE>_TOKEN` gives Bearer,
 * `SDATA_<SIDE>_USER` + `SDATA_<SIDE>_PASSWORD` give Basic. Returns the Authorization header value, if any.
 */
export function authorizationFromEnv(side: Side, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const c = credentialVariables(side);
  const token = env[c.token];
  const user = env[c.user];
  const password = env[c.password];
  if (token !== undefined && token !== '') {
    if (user !== undefined && user !== '') {
      throw new SdataError('SDATA_E_USAGE', `both ${c.token} and ${c.user} are set; choose Bearer or Basic for the ${side}`);
    }
    return authorizationFor({ token }, c.token);
  }
  if (user !== undefined && user !== '') return authorizationFor({ user, password: password ?? '' }, c.user);
  if (password !== undefined && password !== '') {
    throw new SdataError('SDATA_E_USAGE', `${c.password} is set without ${c.user}`);
  }
  return undefined;
}
