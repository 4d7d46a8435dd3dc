"""Reading what the peer receives with expat (ElementTree's XMLPullParser), fed chunk by chunk as the body arrives.

Each child of the root is handed over as it ends and then dropped from the tree, so a feed is never held as one
tree; the entries themselves are kept until the page ends, because an immediate-mode page must be checked whole
before anything is applied (spec 5.8) and a feed's links may follow its entries.
"""
import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .rules import ATOM, HTTP, SDATA, SYNC, DigestEntry, SyncState, parse_tick, q


class BadRequest(Exception):
    """The request as a whole is unusable: 400 with an sdata:diagnoses body (core 3.10)."""

    def __init__(self, message, code='violation'):
        super().__init__(message)
        self.code = code


def pull(chunks, on_child=None):
    """Parses a document from an iterable of byte chunks; on_child(root, child) sees every child of the root as it
    ends. Children are dropped after on_child unless on_child is None (small documents kept whole)."""
    p = ET.XMLPullParser(events=('start', 'end'))
    state = {'depth': 0, 'root': None}

    def drain():
        for ev, el in p.read_events():
            if ev == 'start':
                state['depth'] += 1
                if state['depth'] == 1:
                    state['root'] = el
                continue
            state['depth'] -= 1
            if state['depth'] == 1 and on_child is not None:
                on_child(state['root'], el)
                state['root'].remove(el)

    try:
        for data in chunks:
            p.feed(data)
            drain()
        p.close()
        drain()
    except ET.ParseError as e:
        raise BadRequest('not well-formed XML (expat): %s' % e, 'not-well-formed') from None
    return state['root']


def text_of(el, ns, local):
    c = None if el is None else el.find(q(ns, local))
    return None if c is None else (c.text or '').strip()


def read_digest(el):
    """A sync:digest element -> ({normalised endpoint: DigestEntry}, origin). docs/protocol.md A21: origin is optional on input."""
    digest = {}
    for i, de in enumerate(el.findall(q(SYNC, 'digestEntry')), 1):
        ep = text_of(de, SYNC, 'endpoint')
        tick = parse_tick(text_of(de, SYNC, 'tick'))
        if not ep:
            raise BadRequest('sync:digestEntry %d has no sync:endpoint' % i, 'bad-digest')
        if tick is None:
            raise BadRequest('sync:digestEntry %d (%s): tick %r is not a non-negative integer' % (i, ep, text_of(de, SYNC, 'tick')), 'bad-digest')
        prio_text = text_of(de, SYNC, 'conflictPriority')
        prio = int(prio_text) if prio_text and prio_text.lstrip('-').isdigit() else None
        e = DigestEntry(ep, tick, text_of(de, SYNC, 'stamp') or '', prio)
        digest[e.key] = e
    return digest, text_of(el, SYNC, 'origin')


def read_digest_document(chunks):
    """The body of a $syncSource POST or $syncDigest PUT: an atom:entry with sdata:payload/sync:digest (spec 5.2),
    or, leniently, a bare sync:digest."""
    root = pull(chunks)
    if root.tag == q(SYNC, 'digest'):
        return read_digest(root)
    d = root.find('%s/%s' % (q(SDATA, 'payload'), q(SYNC, 'digest'))) if root.tag == q(ATOM, 'entry') else None
    if d is None:
        raise BadRequest('expected an atom:entry with sdata:payload/sync:digest, got %s' % root.tag, 'bad-digest')
    return read_digest(d)


@dataclass
class Entry:
    index: int
    atom_id: object = None
    updated: object = None
    uuid: object = None
    uuid_on_payload: bool = False
    deleted: bool = False
    state: object = None  # SyncState when readable
    elem: object = None  # the resource element
    error: object = None  # why the entry is invalid
    method_hint: object = None


@dataclass
class Feed:
    id: object = None
    updated: object = None
    links: list = field(default_factory=list)  # (rel, href, came after an entry)
    mode: object = None
    digest: object = None
    origin: object = None
    entries: list = field(default_factory=list)

    def link(self, rel):
        return next((h for r, h, _ in self.links if r == rel), None)


def _flag(el, local):
    """docs/protocol.md A8: isDeleted may come in the sdata or (as 6.1 writes it) the sync namespace."""
    return any((el.get(q(ns, local)) or '').strip() in ('true', '1') for ns in (SDATA, SYNC))


def read_entry(el, index):
    """One atom:entry of a sync feed (spec 4.3/4.4; docs/protocol.md §3.4 step 1), invalid entries kept with their reason."""
    e = Entry(index, text_of(el, ATOM, 'id'), text_of(el, ATOM, 'updated'))
    e.method_hint = text_of(el, HTTP, 'httpMethod')
    errors = []
    st = el.find(q(SYNC, 'syncState'))
    if st is None:
        errors.append('no sync:syncState')
    else:
        ep, tick_text, stamp = text_of(st, SYNC, 'endpoint'), text_of(st, SYNC, 'tick'), text_of(st, SYNC, 'stamp')
        tick = parse_tick(tick_text)
        if not ep:
            errors.append('sync:syncState has no sync:endpoint')
        elif tick is None:
            errors.append('sync:syncState tick %r is not a non-negative integer' % tick_text)
        elif not stamp:
            errors.append('sync:syncState has no sync:stamp')
        else:
            e.state = SyncState(ep, tick, stamp, text_of(st, SYNC, 'user'))
    payload = el.find(q(SDATA, 'payload'))
    resources = [] if payload is None else list(payload)
    if payload is None:
        errors.append('no sdata:payload')
    elif len(resources) != 1:
        errors.append('sdata:payload holds %d elements, not one resource' % len(resources))
    else:
        e.elem = resources[0]
        e.uuid = (e.elem.get(q(SDATA, 'uuid')) or '').strip() or None
        if e.uuid is None and payload.get(q(SDATA, 'uuid')):
            e.uuid, e.uuid_on_payload = payload.get(q(SDATA, 'uuid')).strip(), True  # docs/protocol.md A19
        e.deleted = _flag(e.elem, 'isDeleted')
        if e.uuid is None:
            errors.append('no sdata:uuid on the resource element')
    e.error = '; '.join(errors) or None
    return e


def read_feed(chunks):
    """A sync feed posted to $syncTarget, read as it arrives."""
    f = Feed()

    def child(root, el):
        if root.tag != q(ATOM, 'feed'):
            return
        t = el.tag
        if t == q(ATOM, 'entry'):
            f.entries.append(read_entry(el, len(f.entries) + 1))
        elif t == q(ATOM, 'id'):
            f.id = (el.text or '').strip()
        elif t == q(ATOM, 'updated'):
            f.updated = (el.text or '').strip()
        elif t == q(ATOM, 'link'):
            f.links.append((el.get('rel') or 'alternate', (el.get('href') or '').strip(), bool(f.entries)))
        elif t == q(SYNC, 'syncMode'):
            f.mode = (el.text or '').strip()
        elif t == q(SYNC, 'digest'):
            f.digest, f.origin = read_digest(el)

    root = pull(chunks, child)
    if root.tag != q(ATOM, 'feed'):
        raise BadRequest('expected an atom:feed, got %s' % root.tag, 'not-a-feed')
    return f


def read_result_summary(chunks):
    """A result feed POSTed to $syncResults: entry count and per-entry statuses."""
    statuses = []

    def child(root, el):
        if el.tag == q(ATOM, 'entry'):
            statuses.append(text_of(el, HTTP, 'httpStatus'))

    root = pull(chunks, child)
    if root.tag != q(ATOM, 'feed'):
        raise BadRequest('expected an atom:feed of results, got %s' % root.tag, 'not-a-feed')
    return statuses


# Attributes naming the sender's own copy of a resource: not part of what it means elsewhere.
LOCAL_ATTRS = {q(SDATA, n) for n in ('key', 'url', 'lookup', 'descriptor')}


def canonical(el):
    """Payload meaning, comparable across endpoints and serialisers: Canonical XML 2.0 with prefixes rewritten,
    without sdata:key/url/lookup/descriptor, uuids lower-cased."""
    c = copy.deepcopy(el)
    for x in c.iter():
        for a in list(x.attrib):
            if a in LOCAL_ATTRS:
                del x.attrib[a]
            elif a == q(SDATA, 'uuid'):
                x.set(a, x.get(a).strip().lower())
    return ET.canonicalize(ET.tostring(c, encoding='unicode'), rewrite_prefixes=True)
