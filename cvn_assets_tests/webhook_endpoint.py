"""A real HTTP endpoint on 127.0.0.1 for alert webhooks: it records the JSON bodies posted to it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class WebhookEndpoint:
    """A real HTTP endpoint on 127.0.0.1 that records the JSON bodies it receives."""

    def __init__(self, status: int = 200) -> None:
        bodies: list[dict] = []
        self.status = status  # what it answers; a test may change it
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(endpoint.status)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # silence stderr
                pass

        self.bodies = bodies
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/B000/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
