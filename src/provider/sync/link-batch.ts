import type { EntryRecord } from '../../xml/feed-types.ts';
import { resourceXml } from '../../xml/feed-writer.ts';
import { rootDeclarations, rootSdataAttr, scanRootTag } from '../payload/fragment.ts';
import { EntryBatch, keyOfId } from './batch-applier.ts';
import { linkPayload, linkUuidOf, type LinkUrls } from './link-entry.ts';
import { LinkRefused, type LinkOps } from './links.ts';
import type { ResultEntry } from './result-entry.ts';

/**
 * `$linked/$batch` (spec 1.3 "Batching Linking Requests", core 13.3): entries tagged with `http:httpMethod`, each a
 * `$linked` operation: POST links the resource named by the payload's `sdata:url` (with its `sdata:uuid`, or a new
 * one), PUT re-points the uuid named by the entry's id (`…$linked('{uuid}')`) or its payload's `sdata:uuid`, DELETE
 * unlinks it, GET reads it. One result entry per request entry, in order (13.4). Results of POST and PUT carry the
 * link's attributes only (uuid, url, key), GET the whole link entry's payload; none has an ETag (checklist 59).
 */

/** The fields of a link request entry: its payload root's `sdata:url` and `sdata:uuid`. */
export interface LinkRequest {
  url: string | undefined;
  uuid: string | undefined;
}

/** What a `$linked` body names (the uuid may also sit on sdata:payload, A19: the reader resolves that). */
export function linkRequestOf(rec: EntryRecord): LinkRequest {
  const f = resourceXml(rec);
  if (f === undefined) return { url: undefined, uuid: rec.uuid };
  const rt = scanRootTag(f);
  return { url: rootSdataAttr(rt, rootDeclarations(rt), 'url'), uuid: rec.uuid };
}

/** The uuid in an entry id such as `…/$linked('{uuid}')`, percent-decoded. */
function selectorOf(id: string | undefined): string | undefined {
  const s = keyOfId(id);
  if (s === undefined || s === '' || !s.includes('%')) return s || undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export class LinkBatchApplier extends EntryBatch {
  private readonly ops: LinkOps;
  private readonly urls: LinkUrls;
  private readonly resolve: (url: string) => number;

  /** `resolve` turns an `sdata:url` into the local key it names, or throws LinkRefused. */
  constructor(ops: LinkOps, ctx: number, urls: LinkUrls, resolve: (url: string) => number, source: string) {
    super(ops.store, ops.store.results.writer(ctx), source, (status) => (status === 409 ? 'LinkConflict' : 'LinkRefused'));
    this.ops = ops;
    this.urls = urls;
    this.resolve = resolve;
  }

  protected override refusal(e: unknown): { status: number; message: string } | undefined {
    return e instanceof LinkRefused ? e : undefined;
  }

  protected process(rec: EntryRecord): ResultEntry {
    if (rec.text === undefined) return this.failure(rec, 413, rec.invalid ?? 'entry too large');
    const method = rec.httpMethod;
    if (method === undefined) return this.failure(rec, 400, 'no http:httpMethod (core 13.3)');
    const req = linkRequestOf(rec);
    const named = selectorOf(rec.atomId) ?? req.uuid;
    const target = (): number => {
      if (req.url === undefined) throw new LinkRefused(400, 'the payload has no sdata:url naming the resource (spec 1.3)');
      return this.resolve(req.url);
    };
    switch (method) {
      case 'POST': {
        const { row, created } = this.ops.link(target(), req.uuid);
        return this.ok(linkUuidOf(row), created ? 201 : 200, 'POST', linkPayload(row, this.urls, true));
      }
      case 'PUT': {
        if (named === undefined) return this.failure(rec, 400, "no uuid: name the link in the entry's id ($linked('{uuid}')) or its payload's sdata:uuid");
        const row = this.ops.repoint(named, target());
        return this.ok(linkUuidOf(row), 200, 'PUT', linkPayload(row, this.urls, true));
      }
      case 'DELETE': {
        if (named === undefined) return this.failure(rec, 400, "no uuid: name the link in the entry's id ($linked('{uuid}')) or its payload's sdata:uuid");
        this.ops.unlink(named);
        return this.ok(named, 200, 'DELETE', undefined);
      }
      case 'GET': {
        if (named === undefined) return this.failure(rec, 400, "no uuid: name the link in the entry's id ($linked('{uuid}')) or its payload's sdata:uuid");
        const row = this.ops.get(named);
        return this.ok(linkUuidOf(row), 200, 'GET', linkPayload(row, this.urls, false));
      }
      default:
        return this.failure(rec, 400, `http:httpMethod ${method} is not one of POST, PUT, DELETE, GET`);
    }
  }

  private ok(uuid: string, status: number, method: string, payload: string | undefined): ResultEntry {
    const url = this.urls.linkUrl(uuid);
    return {
      id: url, title: `Linked ${this.ops.kind.name} ${uuid}`, status, method, location: url, updated: this.now,
      ...(payload === undefined ? {} : { payload }),
    };
  }
}
