"""Source side: the selection made when $syncSource is POSTed, and its pages (spec 5.2, 5.6; docs/protocol.md §3.2-§3.3)."""
import copy

from .rules import select
from .target import etag_of
from .xmlwrite import deletion_element, digest_xml, feed_open, resource_xml, sync_entry_xml


def snapshot(peer, k, target_digest, ctx):
    """docs/protocol.md §3.2: selection, digest and payloads are all taken now, so a change made while the engine pages
    cannot put a tick above the feed's digest (4.3); it belongs to the next pass."""
    source_digest = {key: copy.copy(e) for key, e in k.digest.items()}
    chosen = select(source_digest, target_digest, list(k.resources.values()))
    ctx.digest_xml = digest_xml(source_digest, k.endpoint)
    ctx.entries = []
    for r in chosen:
        elem = deletion_element(r.tag, r.uuid) if r.deleted else r.elem
        ctx.entries.append(sync_entry_xml(peer.resource_url(k.name, r.uuid), r.uuid, r.state, etag_of(r), resource_xml(elem)))


def page_url(base_url, start, count, indexed):
    """Next-page URLs are the provider's business (core 6.4): startIndex/count when indexed paging is on, an opaque
    cursor otherwise."""
    if start <= 1:
        return base_url
    return '%s?startIndex=%d&count=%d' % (base_url, start, count) if indexed else '%s?cursor=p%d-%d' % (base_url, start, count)


def parse_page(query, page_size, indexed):
    """(start, count) a page URL asks for; ValueError when it asks for something this peer does not do."""
    if indexed:
        start = int(query.get('startindex', '1'))
        count = int(query.get('count', str(page_size)))
    else:
        if 'startindex' in query:
            raise ValueError('indexed paging is not supported here (sme:canPageIndex="false"): follow the next link')
        cursor = query.get('cursor', 'p1-%d' % page_size)
        start, count = (int(x) for x in cursor[1:].split('-'))
    if start < 1 or count < 1:
        raise ValueError('startIndex and count must be positive')
    return start, count


def source_page(peer, ctx, start, count, self_url, now):
    """One page of the sync feed (docs/protocol.md §2.5): absolute self/first/next links, opensearch totals, syncMode, the digest
    snapshot, then the entries."""
    total = len(ctx.entries)
    home = ctx.parent.url if ctx.parent is not None else ctx.url
    indexed = peer.cfg['indexedPaging']
    nxt = page_url(home, start + count, count, indexed) if start - 1 + count < total else None
    links = [('self', self_url), ('first', home), ('next', nxt)]
    body = [feed_open(home, '%s synchronization feed' % ctx.kind, now, links, (total, start, count)),
            '<sync:syncMode>catchUp</sync:syncMode>', ctx.digest_xml]
    body += ctx.entries[start - 1:start - 1 + count]
    body.append('</feed>')
    return ''.join(body)
