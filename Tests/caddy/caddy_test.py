"""Caddy 2.6 as durin's second front (caddy/Caddyfile.example), end to end: real
Caddy, durin-fcgi over FastCGI, Redis, and a protected upstream (upstream.py).
Run by Tests/caddy/run.sh, which starts them and sets the environment read here."""
import http.client
import json
import os
import re
import subprocess
import time
import unittest

PORT = int(os.environ["CADDY_PORT"])
UPSTREAM_LOG = os.environ["UPSTREAM_LOG"]
ROOT = os.environ["DURIN_ROOT"]


def request(method, path, token=None, headers=(), body=None):
    """One request to Caddy: (status, headers as a list of pairs, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    conn.putrequest(method, path, skip_accept_encoding=True)
    if token:
        conn.putheader("Authorization", f"Token {token}")
    for name, value in headers:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    out = (response.status, response.getheaders(), response.read())
    conn.close()
    return out


def header(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def detail(body):
    return json.loads(body)["detail"]


def login(user, password, client):
    status, _, body = request("POST", "/api/auth/login/", headers=[("Content-Type", "application/json")],
                              body=json.dumps({"username": user, "password": password, "client": client}).encode())
    assert status == 200, (status, body)
    return json.loads(body)["token"]


def upstream_hits():
    with open(UPSTREAM_LOG) as f:
        return len(f.read().splitlines())


def devstack(command):
    subprocess.run([f"{ROOT}/scripts/devstack.sh", command], check=True, stdout=subprocess.DEVNULL)


def redis_cli(*args):
    state = os.environ["DURIN_STATE_DIR"]
    subprocess.run(["redis-cli", "-s", f"{state}/redis.sock", *args], check=True, stdout=subprocess.DEVNULL)


def last_event(kind):
    """The newest event of this type (durin:events), as a dict; None when there is none."""
    state = os.environ["DURIN_STATE_DIR"]
    lines = subprocess.run(["redis-cli", "-s", f"{state}/redis.sock", "XREVRANGE", "durin:events", "+", "-", "COUNT", "50"],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    # redis-cli's raw form: each entry's id, then its fields and values, a line each.
    events = []
    for line in lines:
        if re.fullmatch(r"\d+-\d+", line):
            events.append([])
        elif events:
            events[-1].append(line)
    for fields in events:
        event = dict(zip(fields[0::2], fields[1::2]))
        if event.get("type") == kind:
            return event
    return None


class CaddyFront(unittest.TestCase):
    def test_events_carry_caddys_request_id(self):
        request("POST", "/api/auth/login/", headers=[("Content-Type", "application/json")],
                body=b'{"username":"ann","password":"wrong","client":"web"}')
        event = last_event("login_failed")
        self.assertIsNotNone(event)
        self.assertRegex(event.get("request_id", ""), r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", event)

    def test_api_is_served_through_caddy(self):
        token = login("ann", "ann-pw", "web")
        status, _, body = request("GET", "/api/auth/sessions/", token)
        self.assertEqual(status, 200, body)
        self.assertTrue(any(s["is_current"] for s in json.loads(body)))
        status, _, body = request("POST", "/api/auth/login/", headers=[("Content-Type", "application/json")],
                                  body=b'{"username":"ann","password":"wrong","client":"web"}')
        self.assertEqual((status, json.loads(body)), (400, {"non_field_errors": ["Unable to log in with provided credentials."]}))

    def test_upstream_gets_identity_headers_but_not_the_token(self):
        token = login("ann", "ann-pw", "web")
        status, _, body = request("GET", "/app/page", token)
        self.assertEqual(status, 200, body)
        seen = json.loads(body)
        self.assertEqual(seen["X-Durin-User"], ["ann"])
        self.assertEqual(seen["X-Durin-Client"], ["web"])
        self.assertRegex(seen["X-Durin-Expiry"][0], r"^\d{4}-\d\d-\d\dT")
        self.assertIsNone(seen["Authorization"], "the client's token stays at the front")
        # The check takes no body: an upload larger than durin's own limit passes whole.
        status, _, body = request("POST", "/app/upload", token, body=b"x" * 3_000_000)
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(json.loads(body)["body_length"], 3_000_000)

    def test_client_rules(self):
        web, cli = login("ann", "ann-pw", "web"), login("ann", "ann-pw", "cli")
        self.assertEqual(request("GET", "/partners/x", web)[0], 200)
        status, _, body = request("GET", "/partners/x", cli)
        self.assertEqual((status, detail(body)), (403, "You do not have permission to perform this action."))
        self.assertEqual(request("GET", "/reports/x", web)[0], 200)
        status, _, body = request("GET", "/reports/x", cli)
        self.assertEqual((status, detail(body)), (403, "You do not have permission to perform this action."))

    def test_unauthenticated_requests_get_durins_401(self):
        before = upstream_hits()
        status, headers, body = request("GET", "/app/x")
        self.assertEqual((status, detail(body)), (401, "Authentication credentials were not provided."))
        self.assertEqual(header(headers, "WWW-Authenticate"), ["Token"])
        self.assertEqual(header(headers, "Content-Type"), ["application/json"])
        status, _, body = request("GET", "/app/x", "0" * 64)
        self.assertEqual((status, detail(body)), (401, "Invalid token."))
        self.assertEqual(upstream_hits(), before)

    def test_throttled_requests_get_durins_429(self):
        token = login("tess", "tess-pw", "web")  # web: --throttle 3/m
        for _ in range(3):
            self.assertEqual(request("GET", "/reports/x", token)[0], 200)
        status, headers, body = request("GET", "/reports/x", token)
        self.assertEqual(status, 429, body)
        self.assertRegex(detail(body), r"^Request was throttled\. Expected available in \d+ seconds?\.$")
        self.assertGreaterEqual(int(header(headers, "Retry-After")[0]), 1)

    def test_forged_identity_headers_are_refused(self):
        web = login("ann", "ann-pw", "web")
        forever = login("ann", "ann-pw", "forever")  # its token has no expiry, so no X-Durin-Expiry
        before = upstream_hits()
        for token, headers in [
            (web, [("X-Durin-User", "admin")]),
            (web, [("X-Durin-User", ""), ("X-Durin-User", "admin")]),
            (web, [("x-durin-client", "web")]),
            (web, [("X_Durin_User", "admin")]),
            (forever, [("X-Durin-Expiry", "2099-01-01T00:00:00Z")]),
            (None, [("X-Durin-User", "admin")]),
        ]:
            status, _, body = request("GET", "/app/x", token, headers=headers)
            self.assertEqual((status, detail(body)), (400, "X-Durin-* headers are set by durin, never by a client."), headers)
        self.assertEqual(upstream_hits(), before, "no forged request reached the upstream")
        self.assertEqual(request("GET", "/app/x", forever)[0], 200)

    def test_z_redis_down_is_durins_503_and_recovers(self):
        token = login("ann", "ann-pw", "web")
        redis_cli("SAVE")  # the stack's Redis keeps no data otherwise: its restart loads this
        devstack("redis-stop")
        try:
            status, headers, body = request("GET", "/partners/x", token)
            self.assertEqual((status, detail(body)), (503, "Token store unavailable."))
            self.assertEqual(header(headers, "Retry-After"), ["1"])
        finally:
            devstack("redis-start")
        deadline = time.monotonic() + 20
        while request("GET", "/partners/x", token)[0] != 200:
            self.assertLess(time.monotonic(), deadline, "durin did not recover when Redis came back")
            time.sleep(0.2)

    def test_z_responder_down_is_a_503(self):
        token = login("ann", "ann-pw", "web")
        devstack("durin-stop")
        try:
            status, headers, body = request("GET", "/partners/x", token)
            self.assertEqual((status, detail(body)), (503, "Token service unavailable."))
            self.assertEqual(header(headers, "Retry-After"), ["1"])
        finally:
            devstack("durin-start")
        self.assertEqual(request("GET", "/partners/x", token)[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
