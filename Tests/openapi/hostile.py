"""Schemathesis hooks for Tests/openapi/run.sh's run with hostile credentials.

No valid credentials: Schemathesis generates the Authorization header itself, and
this hook turns each value into one of the forms durin parses (its schemes in any
case, the scheme alone, a token with spaces, an Issuer key, Basic credentials), so
that the parsers of the token routes and of introspect/ and revoke/ meet arbitrary
text and every answer must still be one the document allows (401, mostly).
"""

import base64
import zlib

import schemathesis


def hostile(value: str) -> str:
    forms = (
        lambda v: f"Token {v}",
        lambda v: f"Bearer {v}",
        lambda v: f"tOKEN {v} {v}",
        lambda v: "Token",
        lambda v: f"Issuer {v}",
        lambda v: "Basic " + base64.b64encode(f"gateway:{v}".encode("utf-8", "surrogatepass")).decode(),
        lambda v: f"Basic {v}",
        lambda v: v,
    )
    return forms[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(forms)](value)


@schemathesis.hook
def map_headers(context, headers):
    if headers and isinstance(headers.get("Authorization"), str):
        headers["Authorization"] = hostile(headers["Authorization"])
    return headers
