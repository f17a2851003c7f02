#!/usr/bin/env python3
"""The second test provider: Django OAuth Toolkit on 127.0.0.1, for latchkey's tests.

    tests/dot/.venv/bin/python tests/dot/server.py [--port N] [--access-ttl S] [--exit-on-stdin-eof]

Makes a fresh sqlite database and RSA key in a temporary directory (deleted on exit), creates the
user and the two clients, and prints one line on stdout once it listens:

    {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT,"ca":null}

Everything else goes to stderr. See README.md beside this file.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "alice", "wonderland"
CODE_CLIENT, DEVICE_CLIENT = "latchkey-test", "latchkey-device"


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = False


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the signature wsgiref calls)
        if os.environ.get("LATCHKEY_DOT_VERBOSE"):
            sys.stderr.write("[dot] %s %s\n" % (self.address_string(), format % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--access-ttl", type=int, default=60, help="access token lifetime, seconds")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    opts = parser.parse_args()
    started = time.monotonic()

    # Listen first: the issuer, which the settings need, has the port in it.
    server = Server(("127.0.0.1", opts.port), QuietHandler)
    port = server.server_address[1]
    issuer = f"http://127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="latchkey-dot-")

    def shutdown(*_):
        shutil.rmtree(tmp, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if opts.exit_on_stdin_eof:

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "settings",
            "LATCHKEY_DOT_ISSUER": issuer,
            "LATCHKEY_DOT_DB": os.path.join(tmp, "db.sqlite3"),
            "LATCHKEY_DOT_RSA_KEY": pem,
            "LATCHKEY_DOT_SECRET": secrets.token_hex(32),
            "LATCHKEY_DOT_ACCESS_TTL": str(opts.access_ttl),
        }
    )
    sys.path.insert(0, str(HERE))
    warnings.simplefilter("ignore")  # RFC 9700 deprecation notes, once per request otherwise

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
    get_user_model().objects.create_user(
        USER, "alice@example.com", PASSWORD, first_name="Alice", last_name="Liddell"
    )
    Application = get_application_model()
    common = {
        "client_type": Application.CLIENT_PUBLIC,
        "client_secret": "",
        "algorithm": Application.RS256_ALGORITHM,
        "skip_authorization": False,
    }
    # One grant type per application in Django OAuth Toolkit: a client for the code flow (any
    # loopback port, RFC 8252 7.3, and the paste page), another for the device flow.
    Application.objects.create(
        client_id=CODE_CLIENT,
        name="latchkey (test)",
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=f"http://127.0.0.1/callback {issuer}/show-code",
        **common,
    )
    Application.objects.create(
        client_id=DEVICE_CLIENT,
        name="latchkey (test, device)",
        authorization_grant_type=Application.GRANT_DEVICE_CODE,
        redirect_uris="",
        **common,
    )
    server.set_app(get_wsgi_application())

    ms = int((time.monotonic() - started) * 1000)
    print(f"[dot] listening on {issuer} (startup {ms} ms)", file=sys.stderr)
    ready = {"ready": True, "issuer": issuer, "port": port, "ca": None}
    sys.stdout.write(json.dumps(ready, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        shutdown()


if __name__ == "__main__":
    main()
