"""A local package index for benchmarks: serves a directory laid out as <root>/simple/<project>/
with index.json (PEP 691) and index.html (PEP 503) side by side, choosing by the Accept header
as a real index does, and the files under <root>/files/. Prints its URL, then serves until
killed.

    python3 benches/index_server.py ROOT
"""

import http.server
import os
import sys

ROOT = os.path.abspath(sys.argv[1])
JSON = "application/vnd.pypi.simple.v1+json"


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/simple/") and path.endswith("/"):
            directory = os.path.join(ROOT, path.strip("/"))
            wants_json = JSON in self.headers.get("Accept", "")
            name, kind = ("index.json", JSON) if wants_json else ("index.html", "text/html")
            file = os.path.join(directory, name)
            if not os.path.isfile(file):
                self.send_error(404)
                return
            with open(file, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}/simple", flush=True)
server.serve_forever()
