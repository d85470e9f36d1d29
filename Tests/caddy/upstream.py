"""The protected application in the Caddy test: answers every request with what it
received of durin's (X-Durin-* headers, Authorization, the body's length) as JSON,
and appends each request's path to a log, so the test can tell whether a refused
request ever reached it."""
import http.server
import json
import sys

port, log = int(sys.argv[1]), sys.argv[2]


class Echo(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with open(log, "a") as f:
            f.write(self.path + "\n")
        seen = {name: self.headers.get_all(name) for name in
                ("X-Durin-User", "X-Durin-Client", "X-Durin-Expiry", "X_Durin_User", "Authorization")}
        seen["body_length"] = len(body)
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever()
