"""Apache 2.4 with mod_auth_openidc, configured with the README's lines, checking
durin's tokens through introspect/: a live token passes with REMOTE_USER set to its
user, a wrong one does not, and a revoked or logged-out one stops at the next request
(OIDCOAuthTokenIntrospectionInterval -1: the module keeps no answer)."""
import base64
import json
import os
import unittest
import urllib.error
import urllib.parse
import urllib.request

APACHE = f"http://127.0.0.1:{os.environ['APACHE_PORT']}"
DURIN = f"http://127.0.0.1:{os.environ['DURIN_PORT']}"
KEY = os.environ["ISSUER_KEY"]


def call(url, method="GET", headers=None, body=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def login(client):
    status, _, text = call(f"{DURIN}/api/auth/login/", "POST", {"Content-Type": "application/json"},
                           json.dumps({"username": "ann", "password": "ann-pw", "client": client}).encode())
    assert status == 200, text
    return json.loads(text)["token"]


def report(token):
    return call(f"{APACHE}/reports/", headers={"Authorization": f"Bearer {token}"})


class ApacheIntrospection(unittest.TestCase):
    def test_1_a_live_token_passes_as_its_user(self):
        token = login("web")
        status, headers, text = report(token)
        self.assertEqual(status, 200, text)
        self.assertEqual(text, "the report\n")
        self.assertEqual(headers.get("X-Remote-User"), "ann")

    def test_2_a_wrong_token_and_none_do_not(self):
        self.assertEqual(report("0" * 64)[0], 401)
        self.assertEqual(call(f"{APACHE}/reports/")[0], 401)

    def test_3_a_revoked_token_stops_at_the_next_request(self):
        token = login("mobile")  # 30 days: the module would have kept the answer that long
        self.assertEqual(report(token)[0], 200)
        self.assertEqual(report(token)[0], 200)
        basic = base64.b64encode(f"gateway:{KEY}".encode()).decode()
        status, _, text = call(f"{DURIN}/api/auth/revoke/", "POST",
                               {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
                               urllib.parse.urlencode({"token": token}).encode())
        self.assertEqual((status, text), (200, "{}"))
        self.assertEqual(report(token)[0], 401, "revoked: refused at the next request")

    def test_4_a_logged_out_token_stops_at_the_next_request(self):
        token = login("web")
        self.assertEqual(report(token)[0], 200)
        status, _, _ = call(f"{DURIN}/api/auth/logout/", "POST", {"Authorization": f"Token {token}"})
        self.assertEqual(status, 204)
        self.assertEqual(report(token)[0], 401)


if __name__ == "__main__":
    unittest.main()
