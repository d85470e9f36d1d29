"""An upstream that trusts nothing but a verified X-Durin-Assertion (PyJWT).

It fetches durin's JWKS itself (PyJWKClient, as an application would), accepts only
assertions for https://reports.example from https://auth.example, and answers 200 with
the verified claims, or 401 with why it refused.

    upstream.py PORT JWKS_URL
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

JWKS = jwt.PyJWKClient(sys.argv[2], cache_keys=False, cache_jwk_set=False)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        assertion = self.headers.get("X-Durin-Assertion")
        try:
            if not assertion:
                raise jwt.InvalidTokenError("no assertion")
            key = JWKS.get_signing_key_from_jwt(assertion)
            claims = jwt.decode(assertion, key.key, algorithms=["ES256"], audience="https://reports.example",
                                issuer="https://auth.example", options={"require": ["exp", "iat", "sub", "aud", "iss"]})
            status, body = 200, {"claims": claims, "kid": key.key_id, "assertion": assertion}
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
            status, body = 401, {"error": type(error).__name__, "detail": str(error), "assertion": assertion}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
