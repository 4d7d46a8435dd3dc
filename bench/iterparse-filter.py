# The script a user would write instead of `sdata-sync plan`: Python's ElementTree iterparse over a sync feed,
# each entry decided against the target digest (skip when the target knows its endpoint at a later tick), the rest
# written out. A peer of the plan bench (bench/plan.ts), not part of sdata-sync.
# Usage: python3 bench/iterparse-filter.py DIGEST.xml FEED.xml > forwarded.xml   (a JSON summary on stderr)
import json
import sys
import time
import xml.etree.ElementTree as ET

ATOM = '{http://www.w3.org/2005/Atom}'
SYNC = '{http://schemas.sage.com/sdata/sync/2008/1}'


def norm(url):
    # What a user would do for "the same endpoint": case and a trailing slash.
    return url.strip().rstrip('/').lower()


started = time.monotonic()
digest = {}
for _, el in ET.iterparse(sys.argv[1]):
    if el.tag == SYNC + 'digestEntry':
        digest[norm(el.findtext(SYNC + 'endpoint'))] = int(el.findtext(SYNC + 'tick'))

out = sys.stdout.buffer
read = skipped = forwarded = 0
depth = 0
root = None
for event, el in ET.iterparse(sys.argv[2], events=('start', 'end')):
    if event == 'start':
        if root is None:
            root = el
        depth += 1
        continue
    depth -= 1
    if depth != 1 or el.tag != ATOM + 'entry':
        continue
    read += 1
    tick = digest.get(norm(el.findtext(SYNC + 'syncState/' + SYNC + 'endpoint') or ''))
    if tick is not None and int(el.findtext(SYNC + 'syncState/' + SYNC + 'tick')) < tick:
        skipped += 1
    else:
        forwarded += 1
        out.write(ET.tostring(el))
    root.clear()

sys.stderr.write(json.dumps({'read': read, 'skipped': skipped, 'forwarded': forwarded, 'seconds': time.monotonic() - started}) + '\n')
