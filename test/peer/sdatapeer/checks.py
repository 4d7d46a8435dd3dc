"""Strict checks on what an engine sends. Each finding is recorded on the request's log record and in the peer's
violation list (GET $peer/state); with config.strict the request is refused with 400 + diagnoses. Notes are
things the spec allows but a test may want to see (an http:httpMethod hint, docs/protocol.md A7)."""
import re
from urllib.parse import urlsplit

URI = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:\S+$')


def check_post(peer, rec, query, content_type, tracked=True):
    if not query.get('runname') or not query.get('runstamp'):
        peer.violate(rec, 'missing-run', 'a POST without runName and runStamp (spec 4.1; checklist 37)')
    media = (content_type or '').split(';')[0].strip().lower()
    if media != 'application/atom+xml':
        peer.violate(rec, 'content-type', 'Content-Type %r, not application/atom+xml (spec 5.2, 5.3)' % content_type)
    if tracked and not query.get('trackingid'):
        peer.note(rec, 'no-tracking-id', 'no trackingID: answered synchronously (core 11.5; docs/protocol.md A25)')


def check_feed(peer, rec, k, feed, run):
    """A sync feed POSTed to $syncTarget (spec 4.4, 5.3; docs/protocol.md §1.3 step 4, §2.5)."""
    v = lambda code, msg: peer.violate(rec, code, msg)
    if not feed.entries:
        v('empty-feed', 'a $syncTarget feed with no entries (spec 4.4; checklist 16)')
    if not feed.id:
        v('feed-id-missing', 'the feed has no atom:id (RFC 4287 4.1.1)')
    elif not URI.match(feed.id):
        v('feed-id-not-uri', 'atom:id %r is not a URI (RFC 4287 4.2.6)' % feed.id)
    if not feed.updated:
        v('missing-updated', 'the feed has no atom:updated (RFC 4287 4.1.1)')
    rels = {rel for rel, _, _ in feed.links}
    for rel, href, after in feed.links:
        if rel in ('next', 'self', 'first') and not urlsplit(href).scheme:
            v('relative-href', '<link rel="%s" href="%s">: relative; a page forwarded as received has the provider\'s absolute hrefs' % (rel, href))
        if after:
            peer.note(rec, 'link-after-entries', '<link rel="%s"> comes after the entries' % rel)
    for rel in ('self', 'first'):
        if rel not in rels:
            v('missing-link', 'no <link rel="%s"> (docs/protocol.md §1.3 step 4: the page as received, links included)' % rel)
    last = {}
    for en in feed.entries:
        if en.error:
            v('invalid-entry', 'entry %d (%s): %s' % (en.index, en.atom_id or 'no atom:id', en.error))
        if not en.updated:
            v('missing-updated', 'entry %d has no atom:updated (RFC 4287 4.1.2)' % en.index)
        if en.method_hint is not None:
            peer.note(rec, 'httpmethod-hint', 'entry %d carries http:httpMethod %s; the target derives the operation itself (docs/protocol.md A7)' % (en.index, en.method_hint))
        if en.uuid_on_payload:
            peer.note(rec, 'uuid-on-payload', 'entry %d: sdata:uuid on sdata:payload, not on the resource element (docs/protocol.md A19)' % en.index)
        s = en.state
        if s is None:
            continue
        if s.key in last and not s.tick > last[s.key]:
            v('ticks-not-ascending', 'entry %d: tick %d of %s after %d in the same feed (spec 4.4, 2.2; checklist 13, 18)' % (en.index, s.tick, s.endpoint, last[s.key]))
        last[s.key] = s.tick
        d = (feed.digest or {}).get(s.key)
        if feed.digest is not None and (d is None or s.tick > d.tick):
            v('tick-above-digest', 'entry %d: tick %d of %s is beyond the feed digest (spec 4.3; checklist 7)' % (en.index, s.tick, s.endpoint))
    memory = peer.run_memory(run)
    if run is not None and feed.mode == 'catchUp' and k.name in memory['ended']:
        v('page-after-last', 'a %s page after a page without next in the same run: the target already merged the source digest (spec 5.5)' % k.name)
    if feed.id:
        seen = memory['ids'].get(feed.id)
        if seen is not None and (seen[0] != k.name or seen[1]):
            v('feed-id-reused', 'atom:id %s was the id of another feed in this run (request %d)' % (feed.id, seen[2]))
        memory['ids'][feed.id] = (k.name, feed.link('next') is None, rec['i'])
    if feed.mode == 'catchUp' and feed.link('next') is None:
        memory['ended'].add(k.name)
