"""The peer's configuration: identity and kinds (fixed at start), behaviour switches (changeable at run time)."""
import copy

DEFAULTS = {
    'app': 'peer',
    'contract': 'myContract',
    'dataset': '-',
    'contractNamespace': None,  # default http://schemas.sage.com/{contract}
    'endpointBase': None,  # identity in digests and syncStates; default http://localhost/sdata/{app}/{contract}/{dataset}
    'kinds': [{'name': 'accounts'}],
    # Behaviour, changeable with POST {base}/$peer/config:
    'pageSize': 100,  # entries per source page
    'resultPageSize': 100,  # entries per result page
    'asyncSource': True,  # $syncSource POST with trackingID: 202 + Location (else 200 and page 1)
    'asyncTarget': True,  # $syncTarget POST with trackingID: 202 + Location (else 200 and the results, as core 11.5 allows)
    'polls': 1,  # 202 answers to the first GETs of a context before it is ready
    'pollingMillis': 1,
    'indexedPaging': True,  # startIndex/count honoured; else next links use a cursor and startIndex gets 400
    'strict': False,  # answer a request with violations with 400 + diagnoses (they are recorded either way)
    'misbehave': {
        'resultNoStatus': False,  # result entries without http:httpStatus
        'resultNoMethod': False,  # result entries without http:httpMethod
        'resultCountDelta': 0,  # -1: one result fewer than posted entries; +1: one more
        'nextPage202': False,  # a next source page answers 202 with a new Location, then the page there
        'trackingNeverFinishes': False,  # contexts answer 202 for ever
        'unavailable': 0,  # the next N protocol requests get 503 + Retry-After
        'retryAfter': 0,  # Retry-After seconds on those 503s
        'etagHeader': 'quoted',  # ETag header on $syncDigest and source pages: quoted, unquoted or none
    },
}

KIND_DEFAULTS = {'syncOrder': None, 'conflictPriority': 5, 'element': None, 'isSyncSource': True, 'isSyncTarget': True}
FIXED = ('app', 'contract', 'dataset', 'contractNamespace', 'endpointBase', 'kinds')


class ConfigError(ValueError):
    pass


def merged(base, patch, fixed_ok):
    """base updated with patch; unknown keys (and, at run time, identity keys) are refused so typos fail loudly."""
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if k not in DEFAULTS:
            raise ConfigError('unknown config key %r' % k)
        if k in FIXED and not fixed_ok:
            raise ConfigError('%r is fixed when the peer starts' % k)
        if k == 'misbehave':
            for mk, mv in v.items():
                if mk not in DEFAULTS['misbehave']:
                    raise ConfigError('unknown misbehave switch %r' % mk)
                out['misbehave'][mk] = mv
        elif k == 'kinds':
            kinds = []
            for i, kd in enumerate(v, 1):
                bad = set(kd) - set(KIND_DEFAULTS) - {'name'}
                if bad or not kd.get('name'):
                    raise ConfigError('kind %d: needs a name; unknown keys %s' % (i, sorted(bad)))
                kinds.append({**KIND_DEFAULTS, 'syncOrder': i, **kd})
            out['kinds'] = kinds
        else:
            out[k] = v
    return out


def initial(patch):
    c = merged(DEFAULTS, {'kinds': DEFAULTS['kinds'], **patch}, True)
    c['contractNamespace'] = c['contractNamespace'] or 'http://schemas.sage.com/%s' % c['contract']
    c['endpointBase'] = (c['endpointBase'] or 'http://localhost/sdata/%s/%s/%s' % (c['app'], c['contract'], c['dataset'])).rstrip('/')
    return c
