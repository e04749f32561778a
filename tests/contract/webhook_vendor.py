"""A fake external processor for webhook tests: verifies signatures, deletes, attests (a module name unique
across test folders)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from expunge.bus import SIGNATURE_HEADER


class Vendor:
    """Holds items by URI; answers 202 ``pending`` times per event, then attests deletion."""

    def __init__(self, public_keys, *, pending: int = 0) -> None:
        self.public_keys = public_keys
        self.pending = pending
        self.items: set[str] = set()
        self.deleted: dict[str, str] = {}
        self.calls: list[str] = []
        self.bad_signatures = 0
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key_id, _, signature = self.headers.get(SIGNATURE_HEADER, "").partition(":")
                try:
                    vendor.public_keys[key_id].verify(bytes.fromhex(signature), body)
                except (KeyError, ValueError, Exception):  # any failure is a bad signature
                    vendor.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                event = json.loads(body)
                vendor.calls.append(event["event_id"])
                if vendor.calls.count(event["event_id"]) <= vendor.pending:
                    self.send_response(202)
                    self.end_headers()
                    return
                status = "deleted" if event["uri"] in vendor.items or event["uri"] in vendor.deleted else "not_found"
                vendor.items.discard(event["uri"])
                vendor.deleted.setdefault(event["uri"], event["event_id"])
                answer = json.dumps({"event_id": event["event_id"], "status": status}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/expunge"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
