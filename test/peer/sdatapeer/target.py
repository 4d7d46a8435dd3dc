"""Target side: one posted page of a sync feed applied entry by entry (spec 5.3-5.5; docs/protocol.md §3.5-§3.9)."""
import hashlib
import uuid as uuidlib

from .rules import DigestKeeper, detect, resolve
from .store import Resource
from .xmlread import canonical
from .xmlwrite import resource_xml

DIAG = 'ApplicationDiagnosis'


def etag_of(res):
    if res.elem is None:
        return None
    return hashlib.sha1(('%s|%s|%s' % (canonical(res.elem), res.state.key, res.state.tick)).encode()).hexdigest()[:16]


def apply_page(peer, k, feed, held, now):
    """Returns one result per entry, in order (core 13.4). The end-of-feed merge happens only on a catchUp page
    without a next link, which is how a target knows a feed ended (docs/protocol.md A10)."""
    keeper = DigestKeeper(k.digest, held)
    results = [_apply_entry(peer, k, en, feed.digest, keeper, now) for en in feed.entries]
    if feed.mode == 'catchUp' and feed.link('next') is None:
        keeper.end_of_feed(feed.digest, now)
    return results


def _result(peer, k, uuid, status, message, method, diagnoses, res=None, created=False):
    url = peer.resource_url(k.name, uuid) if uuid else 'urn:uuid:%s' % uuidlib.uuid4()
    live = res is not None and not res.deleted
    return {
        'id': url, 'uuid': uuid, 'status': status, 'message': message, 'method': method, 'diagnoses': diagnoses,
        'location': url if created else None,
        'etag': etag_of(res) if live else None,
        'state': res.state if res is not None else None,
        'payload': resource_xml(res.elem) if live else None,
    }


def _apply_entry(peer, k, en, source_digest, keeper, now):
    r = k.resources.get(en.uuid.lower()) if en.uuid else None
    # Spec 3.5 / docs/protocol.md A7: the operation comes from isDeleted and whether the uuid is known, never from http:httpMethod.
    method = 'DELETE' if en.deleted else ('PUT' if r is not None and not r.deleted else 'POST')
    if en.error:
        if en.state is not None:
            keeper.failed(en.state)  # docs/protocol.md §3.9 item 4: the digest does not move past a failed entry
        return _result(peer, k, en.uuid, 400, 'Bad Request', method, [('error', DIAG, 'entry %d: %s' % (en.index, en.error), 'InvalidEntry')])
    s = en.state
    diagnoses = []
    verdict = 'apply'
    if r is not None:
        rule, verdict = detect(source_digest, k.digest, s, r.state)
        if verdict is None:
            winner, why, warnings = resolve(source_digest, k.digest, s, r.state)
            diagnoses += [('warning', DIAG, w, 'SyncPriorityUnknown') for w in warnings]
            verdict = 'apply' if winner == 'source' else 'target-wins'
            diagnoses.append(('info', DIAG, 'conflict (R4): the source wins, %s' % why, 'SyncConflictSourceWins') if winner == 'source'
                             else ('warning', DIAG, 'conflict (R4): the target wins, %s' % why, 'SyncConflictTargetWins'))
        elif verdict == 'ignore':
            diagnoses.append(('info', DIAG, '%s: the target has this version or a newer one' % rule, 'SyncIgnored'))
    keeper.processed(s, source_digest, now)
    if verdict != 'apply':
        return _result(peer, k, r.uuid, 200, 'OK', method, diagnoses, r)
    if en.deleted:
        if r is None:  # docs/protocol.md §3.5: nothing to delete; keep a tombstone with the incoming state
            r = k.resources[en.uuid.lower()] = Resource(en.uuid, True, s, None, en.elem.tag)
        r.deleted, r.elem, r.state = True, None, s
        return _result(peer, k, r.uuid, 200, 'OK', 'DELETE', diagnoses, r)
    created = r is None or r.deleted
    elem = k.stored_element(en.elem, en.uuid)
    if r is None:
        r = k.resources[en.uuid.lower()] = Resource(en.uuid, False, s, elem, elem.tag)
    r.deleted, r.elem, r.state, r.tag = False, elem, s, elem.tag  # docs/protocol.md §3.8: the incoming syncState, unchanged
    if created:
        return _result(peer, k, r.uuid, 201, 'Created', 'POST', diagnoses, r, created=True)
    return _result(peer, k, r.uuid, 200, 'OK', 'PUT', diagnoses, r)
