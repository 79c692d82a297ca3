"""The OpenAPI document (docs/openapi.json, compiled into the binary) and the
Swagger UI page: the document is valid, describes exactly the routes the
Router serves, and schemathesis finds no disagreement between it and the
server (all checks, a bounded number of examples); the docs page loads its
script and stylesheet from our server only."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from helpers import ROOT

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SWAGGER_UI_DIR = ROOT / "third_party" / "swagger-ui-dist"


def router_routes():
    """(METHOD, path) of every entry of kRoutes in src/server/router.cpp."""
    source = (ROOT / "src" / "server" / "router.cpp").read_text()
    table = source[source.index("kRoutes[] = {"):source.index("};", source.index("kRoutes[] = {"))]
    routes = set()
    for method, path, prefix in re.findall(r'\{"(\w+)", "([^"]*)", &Router::\w+, \w+(, true)?\}', table):
        if prefix:  # a path parameter: /v1/models/ -> /v1/models/{model}
            path += {"/v1/models/": "{model}", "/docs/": "{file}"}[path]
        routes.add((method, path))
    return routes


def test_document_is_valid_and_served_as_built(server):
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    validate(doc)
    served = requests.get(server.url + "/openapi.json", timeout=5)
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/json"
    served = served.json()
    validate(served)
    assert served["paths"] == doc["paths"]
    # The served model's values replace the defaults the file is written with.
    schemas = served["components"]["schemas"]
    assert schemas["TokenId"]["maximum"] == 30521 and schemas["Dimensions"]["maximum"] == 384


def test_document_describes_every_route_and_only_those(server):
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert described == router_routes()
    for method, path in described:  # each is answered (not 404 "no route")
        concrete = path.replace("{model}", "all-MiniLM-L6-v2").replace("{file}", "swagger-ui.css")
        r = requests.request(method, server.url + concrete, json={}, timeout=30)
        assert r.status_code != 404 and r.status_code != 405, (method, path, r.text[:200])


def transport_routes_every_method(url):
    """cpp-httplib answers 400 to a method it does not know (QUERY) before
    the Router sees it; a transport that passes every method on (Boost.Beast)
    gets the Router's 405. The Router's own 405s: test_unsupported_methods_get_405."""
    return requests.request("QUERY", url + "/decode", timeout=5).status_code == 405


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "OPTIONS"])
def test_unsupported_methods_get_405_with_allow(server, method):
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    for path, ops in doc["paths"].items():
        concrete = path.replace("{model}", "all-MiniLM-L6-v2").replace("{file}", "swagger-ui.css")
        r = requests.request(method, server.url + concrete, timeout=5)
        assert r.status_code == 405, (method, path, r.text)
        assert r.headers["Allow"] == ", ".join(m.upper() for m in ops)


def run_schemathesis(url, *options):
    cmd = [str(SCHEMATHESIS), "--config-file", str(ROOT / "tests" / "e2e" / "schemathesis.toml"), "run",
           url + "/openapi.json", "--checks", "all", "--workers", "2", "--seed", "1",
           "--generation-database", "none", "--suppress-health-check", "too_slow,data_too_large",
           "--request-timeout", "30", "--no-color", *options]
    if not transport_routes_every_method(url):
        print("the transport refuses unknown methods itself: schemathesis' unsupported_method check is off")
        cmd += ["--exclude-checks", "unsupported_method"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT / "build")
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    print(proc.stdout[-1500:])


def test_schemathesis_finds_no_disagreement(server):
    # Examples, fuzzing and stateful links with 12 examples per operation
    # (seconds), then the coverage phase (boundary values: the largest and
    # the just-too-large requests) for what remains of a minute.
    run_schemathesis(server.url, "--phases", "examples,fuzzing,stateful", "--max-examples", "12")
    run_schemathesis(server.url, "--phases", "coverage", "--max-time", "45")


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key):
                self.refs.append(attrs[key])
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_docs_page_works_offline_from_our_server(server):
    page = requests.get(server.url + "/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    refs = _Refs()
    refs.feed(page.text)
    assert sorted(refs.refs) == ["docs/favicon-32x32.png", "docs/swagger-ui-bundle.js", "docs/swagger-ui.css"]
    assert not any("//" in r for r in refs.refs)  # nothing from another host
    assert 'url: "openapi.json"' in "".join(refs.scripts)
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for ref in refs.refs:
        r = requests.get(f"{server.url}/{ref}", timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kinds[Path(ref).suffix])
        assert r.content == (SWAGGER_UI_DIR / Path(ref).name).read_bytes()  # the npm package's file
    assert "SwaggerUIBundle" in requests.get(server.url + "/docs/swagger-ui-bundle.js", timeout=5).text
    licence = requests.get(server.url + "/docs/LICENSE", timeout=5)
    assert licence.status_code == 200 and "Apache License" in licence.text
