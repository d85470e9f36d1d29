"""X-Durin-Assertion against PyJWT (Tests/assertion/run.sh starts everything).

The assertion an upstream receives verifies against durin's JWKS and carries the
token's identity; one for another audience, a changed one, an expired one or one of
a key that has left the JWKS is refused by the verifier; a client cannot send its
own; a repeated check hands out the same assertion; after `durinctl assertion-key
rotate` old and new assertions verify until the old key leaves.
"""

import base64
import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import jwt

SITE = f"http://127.0.0.1:{os.environ['SITE_PORT']}"
API = f"http://127.0.0.1:{os.environ['API_PORT']}/api/auth"


def http(method, url, token=None, body=None, headers=None):
    request = urllib.request.Request(url, method=method, data=body, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def login(user, password):
    body = json.dumps({"username": user, "password": password, "client": "web"}).encode()
    status, answer = http("POST", f"{API}/login/", body=body, headers={"Content-Type": "application/json"})
    assert status == 200, answer
    return json.loads(answer)["token"]


def durinctl(*args):
    env = dict(os.environ, DURIN_REDIS_URL=os.environ["CTL_REDIS_URL"], DURIN_SECRET_KEY=os.environ["CTL_SECRET"])
    return subprocess.run([os.environ["DURINCTL"], *args], env=env, check=True, capture_output=True, text=True).stdout


def jwks():
    status, body = http("GET", f"{API}/jwks.json")
    assert status == 200, body
    return json.loads(body)


def verify(assertion, audience="https://reports.example", verify_exp=True):
    """What an upstream does: PyJWT against the JWKS as served now."""
    header = jwt.get_unverified_header(assertion)
    keys = {k["kid"]: k for k in jwks()["keys"]}
    if header.get("kid") not in keys:
        raise jwt.InvalidTokenError(f"no key {header.get('kid')} in the JWKS")
    key = jwt.PyJWK(keys[header["kid"]]).key
    return jwt.decode(assertion, key, algorithms=["ES256"], audience=audience, issuer="https://auth.example",
                      options={"verify_exp": verify_exp})


def reports(token):
    status, body = http("GET", f"{SITE}/reports/q", token=token)
    return status, json.loads(body)


class AssertionsVerifiedByPyJWT(unittest.TestCase):
    def test_1_the_upstream_verifies_who_it_was_told(self):
        token = login("alice", "alice-pw")
        status, body = reports(token)
        self.assertEqual(status, 200, body)
        claims = body["claims"]
        sessions = json.loads(http("GET", f"{API}/sessions/", token=token)[1])
        sid = next(s["id"] for s in sessions if s["is_current"])
        self.assertEqual(claims["sub"], "alice")
        self.assertEqual(claims["client"], "web")
        self.assertEqual(claims["sid"], str(sid))
        self.assertEqual(claims["aud"], "https://reports.example")
        self.assertEqual(claims["iss"], "https://auth.example")
        self.assertIs(claims["is_staff"], False)
        self.assertEqual(claims["email"], "alice@example.com")
        self.assertLessEqual(claims["exp"] - claims["iat"], 20)
        header = jwt.get_unverified_header(body["assertion"])
        self.assertEqual(header["alg"], "ES256")
        self.assertIn(header["kid"], [k["kid"] for k in jwks()["keys"]])
        for key in jwks()["keys"]:
            self.assertNotIn("d", key, "a private key in the JWKS")

        staff = reports(login("ada", "ada-pw"))[1]["claims"]
        self.assertIs(staff["is_staff"], True)
        self.assertNotIn("email", staff)

    def test_2_the_verifier_refuses_what_is_not_for_it(self):
        token = login("alice", "alice-pw")
        # Signed for another audience: the upstream refuses it.
        status, body = http("GET", f"{SITE}/elsewhere/q", token=token)
        self.assertEqual(status, 401, body)
        self.assertEqual(json.loads(body)["error"], "InvalidAudienceError")

        assertion = reports(token)[1]["assertion"]
        head, payload, signature = assertion.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = "ada"
        forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        with self.assertRaises(jwt.InvalidSignatureError):
            verify(f"{head}.{forged_payload}.{signature}")
        # Another key (an attacker's own) under durin's kid.
        from cryptography.hazmat.primitives.asymmetric import ec
        mine = ec.generate_private_key(ec.SECP256R1())
        own = jwt.encode(claims, mine, algorithm="ES256", headers={"kid": jwt.get_unverified_header(assertion)["kid"]})
        with self.assertRaises(jwt.InvalidSignatureError):
            verify(own)
        # alg "none", and HS256 keyed with the public key: never accepted.
        unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": jwt.get_unverified_header(assertion)["kid"]})
        with self.assertRaises(jwt.InvalidTokenError):
            verify(unsigned)

        # Without an audience named, the server's own: a client cannot choose another
        # upstream's audience with its Host header.
        for host in ("reports.example", "evil.example"):
            status, body = http("GET", f"{SITE}/default/q", token=token, headers={"Host": host})
            self.assertEqual(status, 401, body)
            sent = json.loads(body)["assertion"]
            self.assertEqual(jwt.decode(sent, options={"verify_signature": False})["aud"], "http://reports.test")

        # A client's own X-Durin-Assertion never reaches the upstream.
        status, body = http("GET", f"{SITE}/reports/q", token=token, headers={"X-Durin-Assertion": own})
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["detail"], "X-Durin-* headers are set by durin, never by a client.")
        # And without a token there is no assertion at all.
        self.assertEqual(http("GET", f"{SITE}/reports/q")[0], 401)

    def test_3_a_repeated_check_hands_out_the_same_assertion(self):
        token = login("alice", "alice-pw")
        first = reports(token)[1]["assertion"]
        self.assertEqual(reports(token)[1]["assertion"], first)
        # Another token of another user gets its own.
        self.assertNotEqual(reports(login("ada", "ada-pw"))[1]["assertion"], first)

    def test_4_rotation_expiry_and_a_key_leaving(self):
        old = reports(login("alice", "alice-pw"))[1]
        old_kid = old["kid"]
        rotated_at = time.time()
        out = durinctl("assertion-key", "rotate")
        new_kid = out.split()[-1]
        self.assertNotEqual(new_kid, old_kid)
        # Every responder signs with the new key within 5 s. Each try is a new token
        # (the last one logged out), so no assertion signed before comes back.
        # An answer without a kid (the upstream refused, or the check failed) is kept
        # for the message and the wait goes on; the assertions below must verify.
        deadline = time.time() + 15
        new, refusals = {}, []
        while time.time() < deadline:
            token = login("ada", "ada-pw")
            status, new = reports(token)
            http("POST", f"{API}/logout/", token=token)
            if new.get("kid") == new_kid:
                break
            if "kid" not in new:
                refusals.append((status, new))
            time.sleep(0.2)
        self.assertEqual(new.get("kid"), new_kid, f"refused meanwhile: {refusals}")
        # Both verify: the old key is still published.
        self.assertEqual({k["kid"] for k in jwks()["keys"]}, {old_kid, new_kid})
        verify(old["assertion"])
        verify(new["assertion"])
        listed = durinctl("assertion-key", "list")
        self.assertIn(f"{old_kid}\t", listed)
        self.assertIn("published until", listed)

        # Past its exp (DURIN_ASSERTION_TTL=20s) the old assertion is refused.
        time.sleep(max(0, jwt.decode(old["assertion"], options={"verify_signature": False})["exp"] + 1 - time.time()))
        with self.assertRaises(jwt.ExpiredSignatureError):
            verify(old["assertion"])
        # 40 s after the rotation (the TTL, twice) the old key leaves the JWKS.
        time.sleep(max(0, rotated_at + 41 - time.time()))
        self.assertEqual({k["kid"] for k in jwks()["keys"]}, {new_kid})
        with self.assertRaises(jwt.InvalidTokenError):
            verify(old["assertion"], verify_exp=False)
        verify(reports(login("alice", "alice-pw"))[1]["assertion"])


if __name__ == "__main__":
    unittest.main()
