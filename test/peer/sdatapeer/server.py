"""HTTP: routing, bodies read incrementally (Content-Length or chunked), the request log, the strict checks on what
an engine sends, and the misbehaviour switches on what the peer answers."""
import hashlib
import json
import re
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

from . import xmlwrite as W
from .checks import check_feed, check_post
from .rules import contiguity_gap, now_stamp
from .source import page_url, parse_page, snapshot, source_page
from .target import apply_page
from .xmlread import BadRequest, canonical, read_digest_document, read_feed, read_result_summary

ATOM_FEED = 'application/atom+xml; type=feed'
ATOM_ENTRY = 'application/atom+xml; type=entry'
MAX_BODY = 64 * 1024 * 1024
CONTEXT = re.compile(r"^\$(syncSource|syncTarget)(?:\('([^']*)'\))?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls
    server_version = 'sdata-peer/1'

    def log_message(self, *args):  # the peer's log is GET $peer/state
        pass

    def do_GET(self):
        self.dispatch('GET')

    def do_POST(self):
        self.dispatch('POST')

    def do_PUT(self):
        self.dispatch('PUT')

    def do_DELETE(self):
        self.dispatch('DELETE')

    # ----------------------------------------------------------------------------------------------------------
    # plumbing

    def body(self, h=None):
        """The request body as it arrives, Content-Length or chunked; h (a hashlib object) sees every byte."""
        read = 0
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            while True:
                size = int(self.rfile.readline(1024).split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                        pass
                    self.body_done = True
                    return
                yield from self._exactly(size, h)
                self.rfile.readline(8)
                read += size
                if read > MAX_BODY:
                    raise BadRequest('request body over %d bytes' % MAX_BODY, 'too-large')
        n = int(self.headers.get('Content-Length') or 0)
        if n > MAX_BODY:
            raise BadRequest('request body over %d bytes' % MAX_BODY, 'too-large')
        yield from self._exactly(n, h)
        self.body_done = True

    def _exactly(self, n, h):
        while n > 0:
            data = self.rfile.read(min(n, 65536))
            if not data:
                raise BadRequest('request body ended early', 'truncated')
            n -= len(data)
            if h is not None:
                h.update(data)
            yield data

    def send(self, status, body=b'', ctype=None, headers=()):
        if isinstance(body, str):
            body = body.encode('utf-8')
        if not self.body_done and (self.headers.get('Content-Length') not in (None, '0') or self.headers.get('Transfer-Encoding')):
            self.close_connection = True  # a body not read to its end would corrupt the next request on this connection
        self.send_response(status)
        if ctype:
            self.send_header('Content-Type', ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)
        if self.rec is not None:
            self.rec['status'] = status

    def problem(self, status, message, code='ApplicationDiagnosis', severity='error', headers=()):
        self.send(status, W.diagnoses_xml([(severity, code, message, None)]), 'application/xml', headers)

    def json_out(self, obj, status=200):
        self.send(status, json.dumps(obj, ensure_ascii=False), 'application/json')

    def etag_header(self, body):
        mode = self.peer.cfg['misbehave']['etagHeader']
        tag = hashlib.sha1(body.encode('utf-8')).hexdigest()[:16]
        return [] if mode == 'none' else [('ETag', '"%s"' % tag if mode == 'quoted' else tag)]

    def dispatch(self, method):
        self.peer = self.server.peer
        self.rec = None
        self.body_done = False
        path, _, query = self.path.partition('?')
        self.query = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}  # docs/protocol.md A1: names case-insensitive
        try:
            path = unquote(path)
            if not path.startswith(self.peer.base_path + '/'):
                return self.problem(404, 'no SData dataset at %s (this peer serves %s)' % (path, self.peer.base_path), 'DatasetNotFound')
            rest = path[len(self.peer.base_path) + 1:]
            if rest.startswith('$peer/'):
                return self.admin(method, rest[len('$peer/'):])
            kind, _, op = rest.partition('/')
            with self.peer.lock:
                self.rec = {'i': len(self.peer.log), 'method': method, 'path': self.path, 'status': None,
                            'contentType': self.headers.get('Content-Type'), 'kind': kind, 'op': op or None,
                            'trackingID': self.query.get('trackingid'), 'runName': self.query.get('runname'),
                            'runStamp': self.query.get('runstamp'), 'violations': [], 'notes': []}
                self.peer.log.append(self.rec)
                unavailable = self.peer.unavailable_left > 0
                if unavailable:
                    self.peer.unavailable_left -= 1
            if unavailable:
                for _ in self.body():
                    pass
                retry = str(self.peer.cfg['misbehave']['retryAfter'])
                return self.problem(503, 'unavailable (misbehave.unavailable)', 'ApplicationUnavailable', 'transient', [('Retry-After', retry)])
            self.route(method, rest)
        except BadRequest as e:
            if self.rec is not None:
                with self.peer.lock:
                    self.peer.violate(self.rec, e.code, str(e))
            self.problem(400, str(e))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the peer: say so, with the trace on stderr for the test log
            traceback.print_exc(file=sys.stderr)
            self.problem(500, 'sdata-peer internal error: %r' % e)

    # ----------------------------------------------------------------------------------------------------------
    # routes

    def route(self, method, rest):
        p = self.peer
        if rest == '$schema':
            if method != 'GET':
                return self.send(405, headers=[('Allow', 'GET')])
            return self.send(200, W.schema_xml(p.cfg['contractNamespace'], p.kinds.values(), p.cfg['indexedPaging']), 'application/xml')
        kind, _, op = rest.partition('/')
        k = p.kinds.get(kind)
        if k is None:
            return self.problem(404, 'unknown resource kind %r' % kind, 'ResourceKindNotFound')
        if op == '$syncDigest':
            return self.digest(method, k)
        if op == '$syncResults':
            if method != 'POST':
                return self.send(405, headers=[('Allow', 'POST')])
            return self.results_post(k)
        m = CONTEXT.match(op)
        if m is None:
            return self.problem(404, 'this peer serves only the sync URLs of %s, not %r' % (kind, op), 'BadUrlSyntax')
        type_ = 'source' if m.group(1) == 'syncSource' else 'target'
        if m.group(2) is None:
            if method != 'POST':
                return self.send(405, headers=[('Allow', 'POST')])
            return self.source_post(k) if type_ == 'source' else self.target_post(k)
        ctx = p.contexts.get((type_, k.name, m.group(2)))
        if ctx is None:
            return self.problem(404, 'no context %s' % op)
        if method == 'DELETE':
            return self.context_delete(ctx)
        if method != 'GET':
            return self.send(405, headers=[('Allow', 'GET, DELETE')])
        return self.context_get(k, ctx)

    def digest(self, method, k):
        p = self.peer
        url = '%s/$syncDigest' % p.collection(k.name)
        if method in ('PUT', 'POST'):  # docs/protocol.md A3: whole-digest replace, for administration
            digest, _ = read_digest_document(self.body())
            with p.lock:
                k.digest = digest
                k.own_entry(now_stamp())
        elif method != 'GET':
            return self.send(405, headers=[('Allow', 'GET, PUT, POST')])
        with p.lock:
            doc = W.digest_entry_doc(url, k.digest, k.endpoint, now_stamp())
        self.send(200, doc, ATOM_ENTRY, self.etag_header(doc))

    def tracked_post(self):
        """What every $syncSource/$syncTarget POST shares: run and content checks, and the trackingID retry rule
        (core 11.6): the same trackingID gives back its context and never starts the work twice."""
        tid = self.query.get('trackingid') or None
        with self.peer.lock:
            check_post(self.peer, self.rec, self.query, self.headers.get('Content-Type'))
        return tid, hashlib.sha256()

    def retried(self, k, type_, tid, h):
        p = self.peer
        ctx = p.by_tracking.get((type_, k.name, tid)) if tid else None
        if ctx is None:
            return None
        if ctx.body_hash != h.hexdigest():
            p.violate(self.rec, 'tracking-reused', 'trackingID %s was first used by request %d for a different body' % (tid, ctx.request))
        else:
            p.note(self.rec, 'retry', 'same trackingID and body as request %d: its context, not new work' % ctx.request)
        return ctx

    def refuse_if_strict(self):
        if self.peer.cfg['strict'] and self.rec['violations']:
            msgs = [v['message'] for v in self.peer.violations if v['request'] == self.rec['i']]
            self.send(400, W.diagnoses_xml([('error', 'ApplicationDiagnosis', m, 'ProtocolViolation') for m in msgs]), 'application/xml')
            return True
        return False

    def source_post(self, k):
        p = self.peer
        tid, h = self.tracked_post()
        target_digest, _ = read_digest_document(self.body(h))
        with p.lock:
            ctx = self.retried(k, 'source', tid, h)
            if self.refuse_if_strict():
                return None
            asynchronous = bool(tid) and p.cfg['asyncSource']
            if ctx is None:
                ctx = p.new_context('source', k.name, tid, asynchronous, h.hexdigest(), self.rec['i'])
                snapshot(p, k, target_digest, ctx)
            if asynchronous:
                return self.accepted(ctx)
            ctx.polls_left = 0
            return self.source_page(ctx, 1, p.cfg['pageSize'], ctx.url)

    def target_post(self, k):
        p = self.peer
        tid, h = self.tracked_post()
        feed = read_feed(self.body(h))
        self.rec['entries'] = len(feed.entries)
        self.rec['feedId'] = feed.id
        self.rec['links'] = {rel: href for rel, href, _ in feed.links}
        with p.lock:
            ctx = self.retried(k, 'target', tid, h)
            run = (self.query.get('runname'), self.query.get('runstamp'))
            run = run if all(run) else None
            if ctx is None:
                check_feed(p, self.rec, k, feed, run)
            if self.refuse_if_strict():
                return None
            if ctx is None:
                if feed.mode not in ('catchUp', 'immediate'):
                    raise BadRequest('sync:syncMode is %r, not catchUp or immediate (spec 4.4)' % feed.mode, 'no-sync-mode')
                if feed.digest is None:
                    raise BadRequest('the feed has no sync:digest (spec 4.4)', 'no-digest')
                if feed.mode == 'immediate':
                    gap = contiguity_gap(k.digest, [(en.index, en.state) for en in feed.entries if en.state is not None])
                    if gap:  # spec 5.8: the whole request is refused and nothing is applied
                        return self.problem(400, 'immediate feed, entry %d: %s; nothing applied' % gap, 'ApplicationDiagnosis')
                results = apply_page(p, k, feed, p.run_memory(run)['held'].setdefault(k.name, {}), now_stamp())
                delta = p.cfg['misbehave']['resultCountDelta']
                if delta < 0:
                    results = results[:max(0, len(results) + delta)]
                elif delta > 0 and results:
                    results = results + [results[-1]] * delta
                asynchronous = bool(tid) and p.cfg['asyncTarget']
                ctx = p.new_context('target', k.name, tid, asynchronous, h.hexdigest(), self.rec['i'])
                ctx.results = results
            if ctx.needs_delete:
                return self.accepted(ctx)
            ctx.polls_left = 0
            return self.result_page(ctx, 1, p.cfg['resultPageSize'], ctx.url)

    def results_post(self, k):
        statuses = read_result_summary(self.body())
        with self.peer.lock:
            check_post(self.peer, self.rec, self.query, self.headers.get('Content-Type'), tracked=False)
            self.peer.sync_results.append({'kind': k.name, 'runName': self.query.get('runname'), 'runStamp': self.query.get('runstamp'),
                                           'entries': len(statuses), 'statuses': statuses})
        self.send(200)

    def accepted(self, ctx):
        tracking = W.tracking_xml('Processing', self.peer.cfg['pollingMillis'], 0)
        self.send(202, tracking, 'application/xml', [('Location', ctx.url)])

    def context_delete(self, ctx):
        """Core 11.5: 200, and the context is gone: 410 afterwards (which the consumer counts as success)."""
        with self.peer.lock:
            ctx.deletes += 1
            if ctx.deleted:
                self.peer.note(self.rec, 'delete-repeated', '%s was already deleted' % ctx.url)
                return self.send(410)
            ctx.deleted = True
        self.send(200)

    def context_get(self, k, ctx):
        p = self.peer
        with p.lock:
            if ctx.deleted:
                return self.send(410)
            first = not any(x in self.query for x in ('startindex', 'cursor'))
            if (first or ctx.parent is not None) and (ctx.polls_left > 0 or p.cfg['misbehave']['trackingNeverFinishes']):
                ctx.polls_left -= 1
                return self.accepted(ctx)
            size = p.cfg['pageSize'] if ctx.type == 'source' else p.cfg['resultPageSize']
            if ctx.parent is not None:
                return self.source_page(ctx.parent, ctx.start, size, ctx.url)
            try:
                start, count = parse_page(self.query, size, p.cfg['indexedPaging'])
            except ValueError as e:
                return self.problem(400, str(e), 'BadQueryParameter')
            if ctx.type == 'target':
                return self.result_page(ctx, start, count, self.full_url())
            if not first and p.cfg['misbehave']['nextPage202']:
                moved = p.new_context('source', k.name, None, True, None, self.rec['i'])
                moved.parent, moved.start = ctx, start
                return self.accepted(moved)
            return self.source_page(ctx, start, count, self.full_url())

    def full_url(self):
        return self.peer.origin + self.path

    def source_page(self, ctx, start, count, self_url):
        doc = source_page(self.peer, ctx, start, count, self_url, now_stamp())
        self.send(200, doc, ATOM_FEED, self.etag_header(doc))

    def result_page(self, ctx, start, count, self_url):
        """docs/protocol.md §2.6, paged with next links when longer than the result page size (spec 5.3: sequential paging)."""
        m = self.peer.cfg['misbehave']
        rs = ctx.results
        nxt = page_url(ctx.url, start + count, count, self.peer.cfg['indexedPaging']) if start - 1 + count < len(rs) else None
        now = now_stamp()
        body = [W.feed_open(ctx.url, '%s synchronization results' % ctx.kind, now, [('self', self_url), ('first', ctx.url), ('next', nxt)],
                            (len(rs), start, count))]
        body += [W.result_entry_xml(r, now, m['resultNoStatus'], m['resultNoMethod']) for r in rs[start - 1:start - 1 + count]]
        body.append('</feed>')
        self.send(200, ''.join(body), ATOM_FEED)

    # ----------------------------------------------------------------------------------------------------------
    # admin API (not logged: the log is the engine's traffic)

    def admin(self, method, op):
        p = self.peer
        if op == 'state' and method == 'GET':
            with p.lock:
                return self.json_out(p.state_json())
        if method != 'POST':
            return self.send(405, headers=[('Allow', 'POST')])
        raw = b''.join(self.body())
        if op == 'canon':
            return self.json_out(canon_feed(raw))
        try:
            arg = json.loads(raw or b'{}')
            with p.lock:
                if op == 'reset':
                    p.reset()
                    return self.json_out({'ok': True})
                if op == 'config':
                    p.set_config(arg)
                    return self.json_out(p.cfg)
                if op == 'load':
                    return self.json_out(p.load(arg).json())
                if op == 'edit':
                    return self.json_out(p.edit(arg))
        except (ValueError, KeyError, TypeError) as e:
            return self.json_out({'error': '%s: %s' % (type(e).__name__, e)}, 400)
        return self.json_out({'error': 'no admin operation %r' % op}, 404)


def canon_feed(raw):
    """Any sync feed (e.g. another provider's full $syncSource dump) in the form $peer/state gives resources."""
    feed = read_feed([raw])
    out = []
    for en in feed.entries:
        d = {'uuid': en.uuid, 'deleted': en.deleted, 'state': en.state.json() if en.state else None}
        if en.elem is not None and not en.deleted:
            d['canonical'] = canonical(en.elem)
        if en.error:
            d['error'] = en.error
        out.append(d)
    return {'entries': out, 'next': feed.link('next')}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
