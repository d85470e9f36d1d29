"""Replays Tests/openapi/regressions.txt against a running stack (Tests/openapi/run.sh).

Each case is one line of JSON: the request (method, path, headers, body) and the
status it must get. Every answer must also be one the document allows: its status
listed for the operation (a 405 for a method the path does not declare: the
MethodNotAllowed response, with `Allow` naming exactly the path's methods; a 401 for
one on a token route, which authenticates first: the Unauthorized response), its
required headers present and valid, its Content-Type one of the response's, and a
JSON body valid against the response's schema.

    python replay.py ORIGIN DOCUMENT.json REGRESSIONS.txt [WHEN]   (placeholders from the environment)

Line fields: `why`, `method`, `path` (the URL's path: under /api/auth, or
/internal/durin for issue/ and metrics/), `status`; optional `headers` (values are
sent as Latin-1, so "\u00ff" is the byte 0xff), `body` (UTF-8 text), `body_latin1`
(text whose code points are the bytes, for bodies that are not UTF-8), `contains`
(a text the body must contain), `when` (a state of the stack the case needs, e.g.
`redis-down`: replayed only when WHEN names it; cases without are replayed without WHEN). In every string, `${TOKEN}`, `${KEY}`, `${ISSUER}`,
`${BASIC}` (the issuer's `Basic` credentials), `${MOBILE_KEY}` (an issuer's key for the
client mobile only) and `${x*N}` (N times x) are replaced.
"""

import base64
import http.client
import json
import os
import re
import sys
import urllib.parse

from jsonschema import Draft202012Validator

SERVERS = ("/api/auth", "/internal/durin")


def expand(text: str, names: dict) -> str:
    def one(match: re.Match) -> str:
        inner = match.group(1)
        repeat = re.fullmatch(r"(.+)\*([0-9]+)", inner)
        if repeat:
            return repeat.group(1) * int(repeat.group(2))
        return names[inner]

    return re.sub(r"\$\{([^}]+)\}", one, text)


class Document:
    def __init__(self, document: dict):
        self.document = document
        self.paths = []
        for template in document["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.paths.append((re.compile(pattern), template))

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.pointer(node["$ref"])
        return node

    def pointer(self, ref: str):
        node = self.document
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def path_item(self, url_path: str):
        """The document's path for a request path, e.g. /api/auth/sessions/7 -> /sessions/{id}/."""
        # nginx merges slashes (durin's router writes sessions//<id>).
        path = re.sub("/+", "/", urllib.parse.unquote(url_path.split("?")[0]))
        for server in SERVERS:
            if path.startswith(server + "/"):
                path = path[len(server):]
                break
        for candidate in (path, path.rstrip("/") + "/"):
            for pattern, template in self.paths:
                if pattern.match(candidate):
                    return template, self.document["paths"][template]
        return None, None

    def validator(self, schema_ref: str) -> Draft202012Validator:
        # The whole document is the root, so that its #/components/... references resolve.
        root = dict(self.document)
        root["$ref"] = schema_ref
        return Draft202012Validator(root)


def pointer_of(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def check_response(doc: Document, method: str, path: str, status: int, headers, body: bytes) -> list:
    problems = []
    template, item = doc.path_item(path)
    if item is None:
        return [f"no path of the document matches {path}"]
    operation = item.get(method.lower())
    if operation is None and status == 401:
        # A token route authenticates before it checks the method.
        if not any(isinstance(op, dict) and {"Token": []} in op.get("security", []) for op in item.values()):
            return [f"{method} is not declared for {template}, which needs no token, yet the answer is 401"]
        response_ref = "#/components/responses/Unauthorized"
    elif operation is None:
        if status != 405:
            return [f"{method} is not declared for {template}, yet the answer is {status}, not 405"]
        response_ref = "#/components/responses/MethodNotAllowed"
        declared = {m.upper() for m in item if m in ("get", "head", "post", "put", "delete", "options", "patch")}
        allow = {m.strip() for m in (headers.get("Allow") or "").split(",") if m.strip()}
        if allow != declared:
            problems.append(f"Allow is {sorted(allow)}, the document declares {sorted(declared)}")
    else:
        responses = operation["responses"]
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            return [f"{status} is not a documented answer of {method} {template}"]
        response_ref = responses[key].get("$ref") or pointer_of("paths", template, method.lower(), "responses", key)
    response = doc.resolve(doc.pointer(response_ref))
    for name, header in response.get("headers", {}).items():
        header = doc.resolve(header)
        value = headers.get(name)
        if value is None:
            if header.get("required"):
                problems.append(f"required header {name} is missing")
            continue
        schema = header.get("schema", {})
        instance = value
        if schema.get("type") == "integer":
            instance = int(value) if re.fullmatch(r"[0-9]+", value) else value
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(instance)]
        if errors:
            problems.append(f"header {name}: {value!r}: {errors[0]}")
    content = response.get("content")
    if content and method != "HEAD":
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type not in content:
            problems.append(f"Content-Type {media_type!r} is not one of {sorted(content)}")
        elif media_type == "application/json":
            try:
                value = json.loads(body)
            except ValueError as error:
                problems.append(f"the body is not JSON: {error}")
            else:
                schema_ref = response_ref + "/content/application~1json/schema"
                for error in doc.validator(schema_ref).iter_errors(value):
                    problems.append(f"the body does not match the document: {error.message}")
                    break
    return problems


def main() -> int:
    origin, document_path, cases_path = sys.argv[1:4]
    # The cases of one state of the stack: `when` absent (all running), or as named.
    when = sys.argv[4] if len(sys.argv) > 4 else None
    with open(document_path, encoding="utf-8") as f:
        doc = Document(json.load(f))
    names = {
        "TOKEN": os.environ["OPENAPI_TOKEN"],
        "KEY": os.environ["OPENAPI_ISSUER_KEY"],
        "ISSUER": os.environ["OPENAPI_ISSUER"],
        "MOBILE_KEY": os.environ["OPENAPI_MOBILE_KEY"],
    }
    names["BASIC"] = base64.b64encode(f"{names['ISSUER']}:{names['KEY']}".encode()).decode()
    host, port = urllib.parse.urlsplit(origin).hostname, urllib.parse.urlsplit(origin).port
    failures = total = 0
    with open(cases_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            case = json.loads(line)
            if case.get("when") != when:
                continue
            total += 1
            method, path = case["method"], expand(case["path"], names)
            headers = {k: expand(v, names).encode("latin-1") for k, v in case.get("headers", {}).items()}
            if "body_latin1" in case:
                body = expand(case["body_latin1"], names).encode("latin-1")
            else:
                body = expand(case.get("body", ""), names).encode("utf-8")
            connection = http.client.HTTPConnection(host, port, timeout=30)
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body if body else None)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            problems = []
            if answer.status != case["status"]:
                problems.append(f"status {answer.status}, expected {case['status']}")
            if "contains" in case and expand(case["contains"], names).encode() not in data:
                problems.append(f"the body lacks {case['contains']!r}")
            problems += check_response(doc, method, path, answer.status, answer.headers, data)
            label = f"line {number}: {method} {path[:60]} -> {answer.status} ({case['why']})"
            if problems:
                failures += 1
                print(f"FAIL {label}")
                for problem in problems:
                    print(f"     {problem}")
                print(f"     body: {data[:300]!r}")
            else:
                print(f"ok   {label}")
    print(f"regressions: {total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
