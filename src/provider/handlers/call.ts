import type { IncomingMessage, ServerResponse } from 'node:http';
import type { XmlLimits } from '../../xml/limits.ts';
import type { Contexts } from '../store/contexts.ts';
import type { KindInfo } from '../store/repositories.ts';
import type { Store } from '../store/store.ts';
import type { LocalOps } from '../sync/local-edits.ts';
import type { AppliedCounts } from './async-context.ts';

/** What every handler needs: the store, the contexts, settings. One per running provider. */
export interface ProviderCore {
  store: Store;
  contexts: Contexts;
  /** trackingID → how many times its body was applied (for $health). */
  applied: AppliedCounts;
  ops: Map<number, LocalOps>;
  pageSize: number;
  maxPageSize: number;
  maxBodyBytes: number;
  maxEntryBytes: number;
  /** Parsing limits for request bodies (xml/limits.ts). */
  limits: XmlLimits;
  pollingMillis: number;
  /** Test hook: a $syncSource selection stays in its 202 phase until this settles. */
  selectGate: (() => Promise<void>) | undefined;
}

/** One request, routed to a kind. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  core: ProviderCore;
  kind: KindInfo;
  /** Serving URL of the kind's collection (what Location headers and next links use). */
  collection: string;
  /** Who makes the request (http/auth.ts): a stable id, never a secret; '' without authentication. */
  principal: string;
}
