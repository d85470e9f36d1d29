"""Schemathesis hooks for Tests/openapi/run.sh: each operation's credentials.

Token routes get `Authorization: Token <token>` of the user `demo` (client `web`),
the token run.sh logged in for. A run revokes it now and then (logout/, logoutall/,
revoke/): after a 401 Schemathesis asks again, and a fresh token comes from the
trusted-issuance location (issue/ with the issuer key: no password hash, no login
limit), so the rest of the run keeps a valid token. introspect/, revoke/ and issue/
get `Authorization: Issuer <key>`, and so do users/ and users/{id}/ (the key may
manage users; `demo` is staff, out of its reach, so the run keeps its user).
"""

import json
import os
import urllib.request

import schemathesis

ORIGIN = os.environ["OPENAPI_ORIGIN"]
ISSUER_KEY = os.environ["OPENAPI_ISSUER_KEY"]
FIRST_TOKEN = os.environ["OPENAPI_TOKEN"]


def issued_token() -> str:
    request = urllib.request.Request(
        f"{ORIGIN}/internal/durin/issue/",
        data=json.dumps({"username": "demo", "client": "web"}).encode(),
        headers={"Authorization": f"Issuer {ISSUER_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["token"]


@schemathesis.auth().apply_to(path_regex=r"^/(refresh|logout|logoutall|verify|sessions|apiaccess|password|totp)/")
class TokenAuth:
    def __init__(self) -> None:
        self.first = True

    def get(self, case, context):
        if self.first:
            self.first = False
            return FIRST_TOKEN
        return issued_token()

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@schemathesis.auth().apply_to(path=["/introspect/", "/revoke/", "/issue/", "/users/", "/users/{id}/"])
class IssuerAuth:
    def get(self, case, context):
        return ISSUER_KEY

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Issuer {data}"}
