"""Documents the peer sends: digest entry, sync feed pages, result feeds, tracking, diagnoses, $schema.

Built as text with explicit escaping; resource payloads go through ElementTree, which declares on the fragment
every namespace it uses, so a payload means the same wherever it is placed.
"""
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from .rules import ATOM, HTTP, OPENSEARCH, SDATA, SME, SYNC, WEAKEST, XS, q

for _p, _u in (('sdata', SDATA), ('sync', SYNC), ('http', HTTP), ('opensearch', OPENSEARCH), ('sme', SME)):
    ET.register_namespace(_p, _u)

DECL = '<?xml version="1.0" encoding="utf-8"?>\n'
ROOT_NS = ' xmlns="%s" xmlns:sdata="%s" xmlns:sync="%s" xmlns:http="%s" xmlns:opensearch="%s"' % (ATOM, SDATA, SYNC, HTTP, OPENSEARCH)


def el(tag, text):
    return '<%s>%s</%s>' % (tag, escape(str(text)), tag)


def link(rel, href):
    return '<link rel=%s href=%s/>' % (quoteattr(rel), quoteattr(href))


def digest_xml(digest, origin):
    parts = ['<sync:digest>', el('sync:origin', origin)]
    for e in digest.values():
        prio = e.prio if e.prio is not None else WEAKEST
        parts.append('<sync:digestEntry>%s%s%s%s</sync:digestEntry>' % (
            el('sync:endpoint', e.endpoint), el('sync:tick', e.tick), el('sync:stamp', e.stamp), el('sync:conflictPriority', prio)))
    parts.append('</sync:digest>')
    return ''.join(parts)


def state_xml(s):
    user = el('sync:user', s.user) if s.user is not None else ''
    return '<sync:syncState>%s%s%s%s</sync:syncState>' % (el('sync:endpoint', s.endpoint), el('sync:tick', s.tick), el('sync:stamp', s.stamp), user)


def resource_xml(elem):
    return ET.tostring(elem, encoding='unicode')


def deletion_element(tag, uuid):
    """docs/protocol.md §2.5/§3.3: a deletion is the resource element with its uuid, isDeleted="true", and no children."""
    return ET.Element(tag, {q(SDATA, 'uuid'): uuid, q(SDATA, 'isDeleted'): 'true'})


def digest_entry_doc(url, digest, origin, now):
    """Spec 5.1: the $syncDigest resource, an Atom entry."""
    return (DECL + '<entry%s>%s%s%s%s<sdata:payload>%s</sdata:payload></entry>' % (
        ROOT_NS, el('id', url), el('title', 'Synchronization digest'), el('updated', now), link('self', url), digest_xml(digest, origin)))


def feed_open(feed_id, title, now, links, paging=None):
    parts = [DECL, '<feed%s>' % ROOT_NS, el('id', feed_id), el('title', title), el('updated', now)]
    parts += [link(rel, href) for rel, href in links if href]
    if paging:
        total, start, per_page = paging
        parts += [el('opensearch:totalResults', total), el('opensearch:startIndex', start), el('opensearch:itemsPerPage', per_page)]
    return ''.join(parts)


def sync_entry_xml(url, uuid, state, etag, resource):
    """docs/protocol.md §2.5: one entry of a source feed, with a full payload (a deletion has no etag)."""
    return '<entry>%s%s%s%s%s%s<sdata:payload>%s</sdata:payload></entry>' % (
        el('id', url), el('title', uuid), el('updated', state.stamp), link('self', url), el('http:etag', etag) if etag else '', state_xml(state), resource)


def diagnosis_xml(severity, code, message, app_code=None):
    app = el('sdata:applicationCode', app_code) if app_code else ''
    return '<sdata:diagnosis>%s%s%s%s</sdata:diagnosis>' % (el('sdata:severity', severity), el('sdata:sdataCode', code), app, el('sdata:message', message))


def result_entry_xml(r, now, drop_status=False, drop_method=False):
    """docs/protocol.md §2.6: one result entry."""
    parts = ['<entry>', el('id', r['id']), el('title', r.get('uuid') or ''), el('updated', now), link('self', r['id'])]
    if not drop_status:
        parts.append(el('http:httpStatus', r['status']))
    parts.append(el('http:httpMessage', r['message']))
    if not drop_method:
        parts.append(el('http:httpMethod', r['method']))
    if r.get('location'):
        parts.append(el('http:location', r['location']))
    if r.get('etag'):
        parts.append(el('http:etag', r['etag']))
    parts += [diagnosis_xml(*d) for d in r['diagnoses']]
    if r.get('state') is not None:
        parts.append(state_xml(r['state']))
    if r.get('payload'):
        parts.append('<sdata:payload>%s</sdata:payload>' % r['payload'])
    parts.append('</entry>')
    return ''.join(parts)


def tracking_xml(phase, polling_millis, elapsed):
    """Core 3.11, in the sdata/2008/1 namespace (docs/protocol.md A6)."""
    return (DECL + '<sdata:tracking xmlns:sdata="%s">%s%s%s%s%s%s</sdata:tracking>' % (
        SDATA, el('sdata:phase', phase), el('sdata:phaseDetail', ''), el('sdata:progress', 0), el('sdata:elapsedSeconds', elapsed),
        el('sdata:remainingSeconds', 1), el('sdata:pollingMillis', polling_millis)))


def diagnoses_xml(items):
    """Core 3.10: the body of a 4xx/5xx answer; items are (severity, sdataCode, message, applicationCode)."""
    return DECL + '<sdata:diagnoses xmlns:sdata="%s">%s</sdata:diagnoses>' % (SDATA, ''.join(diagnosis_xml(s, c, m, a) for s, c, m, a in items))


def schema_xml(contract_ns, kinds, indexed):
    """Spec 4.5 / core 4.8 (docs/protocol.md §2.7): one xs:element per resource kind, named as its URL segment."""
    parts = [DECL, '<xs:schema xmlns:xs="%s" xmlns:sme="%s" targetNamespace=%s elementFormDefault="qualified">' % (XS, SME, quoteattr(contract_ns))]
    for k in kinds:
        attrs = {
            'name': k.name, 'sme:role': 'resourceKind', 'sme:pluralName': k.name,
            'sme:isSyncSource': k.is_source, 'sme:isSyncTarget': k.is_target, 'sme:syncOrder': k.sync_order,
            'sme:syncConflictPriority': k.priority, 'sme:hasUuid': True, 'sme:supportsETag': False, 'sme:batchingMode': 'none',
            'sme:canPageNext': True, 'sme:canPagePrevious': False, 'sme:canPageIndex': indexed,
        }
        text = ' '.join('%s=%s' % (a, quoteattr(str(v).lower() if isinstance(v, bool) else str(v))) for a, v in attrs.items())
        parts.append('<xs:element %s/>' % text)
    parts.append('</xs:schema>')
    return ''.join(parts)
