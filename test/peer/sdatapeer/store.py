"""The peer's in-memory state: kinds with resources and digests, async contexts, the request log. One lock guards it
all; HTTP handlers parse bodies outside the lock and take it to read or change state."""
import copy
import threading
import uuid as uuidlib
import xml.etree.ElementTree as ET

from . import config as configmod
from .rules import SDATA, DigestEntry, SyncState, digest_json, norm_endpoint, now_stamp, parse_tick, q
from .xmlread import canonical


class Resource:
    __slots__ = ('uuid', 'deleted', 'state', 'elem', 'tag')

    def __init__(self, uuid, deleted, state, elem, tag):
        self.uuid, self.deleted, self.state, self.elem, self.tag = uuid, deleted, state, elem, tag

    def json(self):
        d = {'uuid': self.uuid, 'deleted': self.deleted, 'state': self.state.json()}
        if self.elem is not None:
            d['payload'] = ET.tostring(self.elem, encoding='unicode')
            d['canonical'] = canonical(self.elem)
        return d


class Kind:
    def __init__(self, cfg, kc, now):
        self.name = kc['name']
        self.sync_order = kc['syncOrder']
        self.priority = kc['conflictPriority']
        self.is_source, self.is_target = kc['isSyncSource'], kc['isSyncTarget']
        self.endpoint = '%s/%s' % (cfg['endpointBase'], self.name)
        element = kc['element'] or (self.name[:-1] if self.name.endswith('s') else self.name)
        self.ns = cfg['contractNamespace']
        self.tag = q(self.ns, element)
        self.resources = {}  # lower-cased uuid -> Resource
        self.digest = {}  # normalised endpoint -> DigestEntry
        self.own_entry(now)

    def own_entry(self, now):
        e = self.digest.get(norm_endpoint(self.endpoint))
        if e is None:
            e = self.digest[norm_endpoint(self.endpoint)] = DigestEntry(self.endpoint, 1, now, self.priority)
        return e

    def stamp_local_change(self, now):
        """Spec 2.2 (docs/protocol.md §3.1): a local change takes the current tick of this endpoint, which then moves on."""
        own = self.own_entry(now)
        s = SyncState(self.endpoint, own.tick, now)
        own.tick, own.stamp = own.tick + 1, now
        return s

    def stored_element(self, elem, uuid):
        """The element kept for a resource: sdata:uuid on it (docs/protocol.md A19), without the deletion flag and without the
        sender's own key/url, which name its copy, not ours."""
        c = copy.deepcopy(elem)
        for a in ('isDeleted', 'key', 'url'):
            c.attrib.pop(q(SDATA, a), None)
        c.set(q(SDATA, 'uuid'), uuid)
        return c

    def generated_element(self, uuid, name):
        e = ET.Element(self.tag, {q(SDATA, 'uuid'): uuid})
        ET.SubElement(e, q(self.ns, 'name')).text = name
        return e

    def json(self):
        return {
            'endpoint': self.endpoint,
            'resources': [r.json() for r in sorted(self.resources.values(), key=lambda r: r.uuid.lower())],
            'digest': digest_json(self.digest),
        }


class Context:
    """An asynchronous operation ($syncSource or $syncTarget), kept until DELETE (core 11.5)."""

    def __init__(self, type_, kind, cid, url, needs_delete, polls, body_hash, request):
        self.type, self.kind, self.id, self.url = type_, kind, cid, url
        self.needs_delete = needs_delete  # false when the answer was synchronous: the consumer has nothing to DELETE
        self.polls_left = polls
        self.body_hash = body_hash
        self.request = request  # index of the request that created it
        self.deleted = False
        self.deletes = 0
        self.digest_xml = None  # source: the digest snapshot
        self.entries = None  # source: the selected entries, serialised at selection time
        self.results = None  # target: result records
        self.parent, self.start = None, None  # a next page moved to its own context (misbehave.nextPage202)

    def json(self):
        return {'type': self.type, 'kind': self.kind, 'id': self.id, 'url': self.url, 'needsDelete': self.needs_delete,
                'deleted': self.deleted, 'deletes': self.deletes, 'createdBy': self.request}


class Peer:
    def __init__(self, cfg, origin):
        self.lock = threading.RLock()
        self.initial_cfg = copy.deepcopy(cfg)
        self.cfg = cfg
        self.origin = origin  # http://127.0.0.1:PORT
        self.base_path = '/sdata/%s/%s/%s' % (cfg['app'], cfg['contract'], cfg['dataset'])
        self.base = origin + self.base_path
        self.reset()

    def reset(self):
        """Back to the start: no resources, fresh digests, the switches given at start, an empty log."""
        self.cfg = copy.deepcopy(self.initial_cfg)
        now = now_stamp()
        self.kinds = {kc['name']: Kind(self.cfg, kc, now) for kc in self.cfg['kinds']}
        self.contexts = {}  # (type, kind, id) -> Context
        self.by_tracking = {}  # (type, kind, trackingID) -> Context
        self.log = []
        self.violations = []
        self.runs = {}  # (runName, runStamp) -> what the strict checks remember about a run
        self.sync_results = []
        self.unavailable_left = self.cfg['misbehave']['unavailable']

    def collection(self, kind):
        return '%s/%s' % (self.base, kind)

    def resource_url(self, kind, uuid):
        return "%s('%s')" % (self.collection(kind), uuid)

    def new_context(self, type_, kind, tracking_id, needs_delete, body_hash, request):
        cid = tracking_id or str(uuidlib.uuid4())
        url = "%s/$%s('%s')" % (self.collection(kind), {'source': 'syncSource', 'target': 'syncTarget'}[type_], cid)
        if (type_, kind, cid) in self.contexts:  # a trackingID reused for another operation: keep both reachable
            cid = '%s-%s' % (cid, uuidlib.uuid4().hex[:8])
            url = "%s/$%s('%s')" % (self.collection(kind), {'source': 'syncSource', 'target': 'syncTarget'}[type_], cid)
        ctx = Context(type_, kind, cid, url, needs_delete, self.cfg['polls'], body_hash, request)
        self.contexts[(type_, kind, cid)] = ctx
        if tracking_id:
            self.by_tracking[(type_, kind, tracking_id)] = ctx
        return ctx

    def run_memory(self, run):
        if run is None:
            return {'ids': {}, 'ended': set(), 'held': {}}  # forgotten after the request
        return self.runs.setdefault(run, {'ids': {}, 'ended': set(), 'held': {}})

    def violate(self, rec, code, message):
        rec['violations'].append(code)
        self.violations.append({'request': rec['i'], 'method': rec['method'], 'path': rec['path'], 'code': code, 'message': message})

    def note(self, rec, code, message):
        rec['notes'].append({'code': code, 'message': message})

    # ----------------------------------------------------------------------------------------------------------
    # Admin API

    def set_config(self, patch):
        self.cfg = configmod.merged(self.cfg, patch, False)
        if 'unavailable' in patch.get('misbehave', {}):
            self.unavailable_left = self.cfg['misbehave']['unavailable']

    def load(self, spec):
        """Exact state for tests: {kind, digest?: [{endpoint, tick, conflictPriority, stamp?}] (replaces the digest),
        resources?: [{uuid, state: {endpoint, tick, stamp, user?}, deleted?, payload? | name?}] (added or replaced)}."""
        k = self.kinds[spec.get('kind') or next(iter(self.kinds))]
        now = now_stamp()
        if 'digest' in spec:
            k.digest = {}
            for d in spec['digest']:
                tick = parse_tick(str(d['tick']))
                if tick is None:
                    raise ValueError('digest tick %r' % d['tick'])
                e = DigestEntry(d['endpoint'], tick, d.get('stamp') or now, d.get('conflictPriority'))
                k.digest[e.key] = e
        for r in spec.get('resources', []):
            st = r['state']
            tick = parse_tick(str(st['tick']))
            if tick is None:
                raise ValueError('resource %s: tick %r' % (r['uuid'], st['tick']))
            state = SyncState(st['endpoint'], tick, st.get('stamp') or now, st.get('user'))
            self._put(k, r, state)
        return k

    def edit(self, spec):
        """A local change ({kind, uuid, name? | payload?, deleted?}), stamped with this endpoint's next tick."""
        k = self.kinds[spec.get('kind') or next(iter(self.kinds))]
        state = k.stamp_local_change(now_stamp())
        return self._put(k, spec, state)

    def _put(self, k, r, state):
        uuid = r['uuid']
        deleted = bool(r.get('deleted'))
        elem = None
        if not deleted:
            elem = ET.fromstring(r['payload']) if r.get('payload') else k.generated_element(uuid, r.get('name') or uuid)
            elem = k.stored_element(elem, uuid)
        res = Resource(uuid, deleted, state, elem, elem.tag if elem is not None else k.tag)
        k.resources[uuid.lower()] = res
        return res.json()

    def state_json(self):
        return {
            'base': self.base,
            'endpointBase': self.cfg['endpointBase'],
            'kinds': {n: k.json() for n, k in self.kinds.items()},
            'contexts': [c.json() for c in self.contexts.values()],
            'openContexts': [c.json() for c in self.contexts.values() if c.needs_delete and not c.deleted],
            'log': self.log,
            'violations': self.violations,
            'syncResults': self.sync_results,
            'config': self.cfg,
        }
