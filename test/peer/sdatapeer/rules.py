"""The SData sync vocabulary and decision rules, with no I/O.

Written from the spec ( spec 2.x-5.x; docs/protocol.md §2, §3), not from the TypeScript implementation: this
peer exists to catch the places where our reading of the spec and our code agree with each other but not with
the spec.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

ATOM = 'http://www.w3.org/2005/Atom'
SDATA = 'http://schemas.sage.com/sdata/2008/1'
SYNC = 'http://schemas.sage.com/sdata/sync/2008/1'
HTTP = 'http://schemas.sage.com/sdata/http/2008/1'
OPENSEARCH = 'http://a9.com/-/spec/opensearch/1.1/'
SME = 'http://schemas.sage.com/sdata/sme/2007'
XS = 'http://www.w3.org/2001/XMLSchema'

# The weakest priority, used when no digest knows an endpoint (docs/protocol.md §3.7).
WEAKEST = 9


def q(ns, local):
    return '{%s}%s' % (ns, local)


_TICK = re.compile(r'^[0-9]+$')


def parse_tick(text):
    """A tick is a non-negative integer of any size; Python ints are exact. None when the text is not one."""
    t = (text or '').strip()
    return int(t) if _TICK.match(t) else None


def norm_endpoint(url):
    """docs/protocol.md A27: lower-case scheme and host, no trailing slash, no query, no fragment."""
    u = urlsplit((url or '').strip())
    return '%s://%s%s' % (u.scheme.lower(), u.netloc.lower(), u.path.rstrip('/'))


def stamp_instant(text):
    """docs/protocol.md A38: stamps compare as UTC instants and zone-less values are UTC. None when unreadable."""
    t = (text or '').strip()
    try:
        d = datetime.fromisoformat(t[:-1] + '+00:00' if t[-1:] in ('Z', 'z') else t)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def now_stamp():
    return datetime.now(timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')


@dataclass
class DigestEntry:
    endpoint: str
    tick: int
    stamp: str
    prio: object  # int, or None when the sender gave none

    @property
    def key(self):
        return norm_endpoint(self.endpoint)


@dataclass
class SyncState:
    endpoint: str
    tick: int
    stamp: str
    user: object = None

    @property
    def key(self):
        return norm_endpoint(self.endpoint)

    def json(self):
        d = {'endpoint': self.endpoint, 'tick': str(self.tick), 'stamp': self.stamp}
        if self.user is not None:
            d['user'] = self.user
        return d


def digest_json(digest):
    return [{'endpoint': e.endpoint, 'tick': str(e.tick), 'stamp': e.stamp, 'conflictPriority': e.prio} for e in digest.values()]


# --------------------------------------------------------------------------------------------------------------
# Source side

def select(source_digest, target_digest, resources):
    """Spec 2.5/5.2 (docs/protocol.md §3.2): for each endpoint the source knows further than the target, every resource last
    changed there at or after the target's tick, tombstones included; ascending tick per endpoint. An endpoint the
    target digest lacks selects everything from it."""
    chosen = []
    for key, s in source_digest.items():
        t = target_digest.get(key)
        lower = None if t is None else t.tick
        if lower is not None and not s.tick > lower:
            continue
        chosen.extend(r for r in resources if r.state.key == key and (lower is None or r.state.tick >= lower))
    chosen.sort(key=lambda r: (r.state.key, r.state.tick))
    return chosen


# --------------------------------------------------------------------------------------------------------------
# Target side

def detect(source_digest, target_digest, s, t):
    """Spec 5.4 (docs/protocol.md §3.6), strict '>' in R2 and R3. Returns (rule, 'apply' | 'ignore' | None for a conflict)."""
    if s.key == t.key:
        return 'R1', 'apply' if s.tick > t.tick else 'ignore'
    e = source_digest.get(t.key)
    if e is not None and e.tick > t.tick:
        return 'R2', 'apply'
    e = target_digest.get(s.key)
    if e is not None and e.tick > s.tick:
        return 'R3', 'ignore'
    return 'R4', None


def _priority(first, second, key, warnings):
    for d in (first, second):
        e = d.get(key)
        if e is not None and e.prio is not None:
            return e.prio
    warnings.append('no conflictPriority known for %s: %d assumed' % (key, WEAKEST))
    return WEAKEST


def resolve(source_digest, target_digest, s, t):
    """Spec 5.4 / 2.3 (docs/protocol.md §3.7): lower priority wins (each looked up in its own side's digest first), then the
    newer stamp, then the smaller normalised endpoint URL. Returns ('source' | 'target', why, warnings)."""
    warnings = []
    sp = _priority(source_digest, target_digest, s.key, warnings)
    tp = _priority(target_digest, source_digest, t.key, warnings)
    if sp != tp:
        return ('source' if sp < tp else 'target'), 'priority %s against %s' % (sp, tp), warnings
    si, ti = stamp_instant(s.stamp), stamp_instant(t.stamp)
    if si is not None and ti is not None and si != ti:
        return ('source' if si > ti else 'target'), 'equal priority, newer stamp', warnings
    return ('source' if s.key < t.key else 'target'), 'equal priority and stamp, smaller endpoint URL', warnings


def contiguity_gap(target_digest, states):
    """Spec 5.8 (docs/protocol.md §3.4 step 3): the first (position, reason) where an immediate feed's ticks leave a gap after
    the target digest, or None. A tick below the expected one is a duplicate, not a gap; an endpoint the target has
    no entry for counts as a gap (a catch-up pass must come first)."""
    expected = {k: e.tick for k, e in target_digest.items()}
    for i, s in states:
        if s.key not in expected:
            return i, 'the target digest has no entry for %s' % s.endpoint
        if s.tick > expected[s.key]:
            return i, 'tick %d of %s leaves a gap after %d' % (s.tick, s.endpoint, expected[s.key])
        expected[s.key] = max(expected[s.key], s.tick + 1)
    return None


class DigestKeeper:
    """Spec 5.5 (docs/protocol.md §3.9) for one kind's digest across the pages of one feed: advance per processed entry, hold
    an endpoint back at its first failed tick, and merge with the source digest at the end of a catchUp feed only,
    except for held-back endpoints."""

    def __init__(self, digest, held):
        self.digest = digest
        self.held = held  # normalised endpoint -> lowest failed tick; lives as long as the feed (its run)

    def processed(self, s, source_digest, now):
        want = s.tick + 1
        cap = self.held.get(s.key)
        if cap is not None:
            want = min(want, cap)
        e = self.digest.get(s.key)
        if e is None:
            src = source_digest.get(s.key)
            self.digest[s.key] = DigestEntry(s.endpoint, want, now, src.prio if src and src.prio is not None else WEAKEST)
        elif want > e.tick:
            e.tick, e.stamp = want, now

    def failed(self, s):
        self.held[s.key] = min(self.held.get(s.key, s.tick), s.tick)

    def end_of_feed(self, source_digest, now):
        for key, s in source_digest.items():
            if key in self.held:
                continue
            e = self.digest.get(key)
            if e is None:
                self.digest[key] = DigestEntry(s.endpoint, s.tick, now, s.prio if s.prio is not None else WEAKEST)
            elif s.tick > e.tick:
                e.tick, e.stamp = s.tick, now
