#!/usr/bin/env python3
"""sdata-peer: an SData 1.1 sync provider (source and target) written from the spec alone (as docs/protocol.md explains it), in another
language and with another XML parser (expat) than sdata-sync, so that tests can catch what our engine and our
provider agree on but the spec does not say. Test oracle; standard library only.

    python3 test/peer/sdata_peer.py --port 0 [--config FILE.json] [--exit-on-stdin-eof]

Prints one JSON line when ready ({"url": dataset base, "endpointBase", "kinds", "pid"}); SIGTERM or SIGINT end it.
Serves, under {url}/{kind}: $syncDigest, $syncSource, $syncTarget (and their contexts), $syncResults; {url}/$schema;
and the test API {url}/$peer/{reset,load,edit,config,canon} (POST, JSON) and {url}/$peer/state (GET).
"""
import argparse
import json
import os
import signal
import sys
import threading

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sdatapeer import config as configmod  # noqa: E402
from sdatapeer.server import Handler, Server  # noqa: E402
from sdatapeer.store import Peer  # noqa: E402


def wait_for_eof(stop):
    # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader makes interpreter shutdown fail.
    while os.read(0, 4096):
        pass
    stop.set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--config', help='JSON file; keys as in sdatapeer/config.py DEFAULTS')
    ap.add_argument('--exit-on-stdin-eof', action='store_true', help='stop when stdin closes (the spawning process went away)')
    args = ap.parse_args()
    patch = {}
    if args.config:
        with open(args.config, encoding='utf-8') as f:
            patch = json.load(f)
    try:
        cfg = configmod.initial(patch)
    except configmod.ConfigError as e:
        print('sdata-peer: %s' % e, file=sys.stderr)
        return 2
    server = Server((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    server.peer = Peer(cfg, 'http://%s:%d' % (host, port))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=wait_for_eof, args=(stop,), daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    serving.start()
    print(json.dumps({'url': server.peer.base, 'endpointBase': cfg['endpointBase'], 'kinds': [k['name'] for k in cfg['kinds']], 'pid': os.getpid()}), flush=True)
    while not stop.wait(3600):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
