"""Operations through the real server: X-Request-Id, CORS, the JSON-lines
access log and --log-format json."""
from __future__ import annotations

import json
import re
import time

import requests

EMBED = {"input": ["first sentence", "a second one"]}


def test_request_id_is_echoed_or_generated(server):
    r = requests.post(server.url + "/v1/embeddings", json=EMBED, timeout=30,
                      headers={"X-Request-Id": "trace-42.abc"})
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "trace-42.abc"
    ids = {requests.get(server.url + "/health", timeout=10).headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    # An id with spaces (or over 128 characters) is replaced, not echoed.
    for bad in ("has spaces", "x" * 129):
        r = requests.get(server.url + "/health", timeout=10, headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"]), r.headers
    # Errors carry one too.
    r = requests.get(server.url + "/nope", timeout=10, headers={"X-Request-Id": "err-1"})
    assert r.status_code == 404 and r.headers["X-Request-Id"] == "err-1"


def test_cors_is_off_by_default(server):
    r = requests.options(server.url + "/v1/embeddings", timeout=10, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 405 and "Access-Control-Allow-Origin" not in r.headers
    r = requests.post(server.url + "/v1/embeddings", json=EMBED, timeout=30,
                      headers={"Origin": "https://app.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_cors_preflight_and_responses(start_server):
    s = start_server("--cors-allow-origin", "https://app.example", "--api-key", "k")
    pre = requests.options(s.url + "/v1/embeddings", timeout=10, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    # Preflights carry no credentials: answered before the API key check.
    assert pre.status_code == 204, pre.text
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    r = requests.post(s.url + "/v1/embeddings", json=EMBED, timeout=30, headers={
        "Origin": "https://app.example", "Authorization": "Bearer k"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Vary"] == "Origin" and "X-Request-Id" in r.headers["Access-Control-Expose-Headers"]
    # Errors are readable by the page too (401 without the key).
    r = requests.post(s.url + "/v1/embeddings", json=EMBED, timeout=30,
                      headers={"Origin": "https://app.example"})
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    # Another origin gets no allow header, so the browser refuses.
    other = requests.options(s.url + "/v1/embeddings", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert other.status_code == 204 and "Access-Control-Allow-Origin" not in other.headers


def test_cors_any_origin(start_server):
    s = start_server("--cors-allow-origin", "*")
    r = requests.get(s.url + "/health", timeout=10, headers={"Origin": "http://localhost:3000"})
    assert r.headers["Access-Control-Allow-Origin"] == "*" and "Vary" not in r.headers


def read_lines(path, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)
    raise AssertionError(f"expected {count} access-log lines in {path}")


def test_access_log_json_lines(start_server, tmp_path):
    log = tmp_path / "access.jsonl"
    s = start_server("--access-log", str(log))
    start = len(read_lines(log, 0))  # the readiness probes are logged too
    r = requests.post(s.url + "/v1/embeddings", json=EMBED, timeout=30,
                      headers={"X-Request-Id": "log-me"})
    assert r.status_code == 200
    requests.post(s.url + "/embed", data=b"{not json", timeout=30,
                  headers={"Content-Type": "application/json"})
    lines = read_lines(log, start + 2)
    ok = next(line for line in lines if line["request_id"] == "log-me")
    assert list(ok) == ["ts", "request_id", "method", "route", "status", "inputs", "tokens",
                        "queue_ms", "total_ms", "remote_addr"]
    assert (ok["method"], ok["route"], ok["status"], ok["inputs"]) == ("POST", "/v1/embeddings", 200, 2)
    assert ok["tokens"] >= 6 and ok["queue_ms"] >= 0 and ok["total_ms"] >= ok["queue_ms"]
    assert ok["remote_addr"] == "127.0.0.1" and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", ok["ts"])
    bad = [line for line in lines if line["route"] == "/embed"]
    assert bad and bad[-1]["status"] == 400 and bad[-1]["inputs"] == 0


def test_access_log_to_stdout_and_json_server_log(start_server):
    s = start_server("--access-log", "-", "--log-format", "json")
    requests.get(s.url + "/info", timeout=10, headers={"X-Request-Id": "stdout-line"})
    assert s.terminate() == 0
    lines = [json.loads(line) for line in s.output().splitlines()]  # every line is JSON
    assert any(line.get("request_id") == "stdout-line" and line["route"] == "/info" for line in lines)
    msgs = [line for line in lines if "msg" in line]
    assert any(m["msg"].startswith("listening on http://127.0.0.1:") and m["level"] == "info"
               for m in msgs), msgs
    assert [m["msg"] for m in msgs][-2:] == ["SIGTERM: finishing in-flight requests", "stopped"]


def test_bad_log_format_and_unwritable_access_log_are_clear_errors(tmp_path):
    import subprocess
    from helpers import BINARY, MODEL_DIR
    r = subprocess.run([str(BINARY), "serve", "--model", str(MODEL_DIR), "--log-format", "xml"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and b"--log-format" in r.stderr and b"xml" in r.stderr
    r = subprocess.run([str(BINARY), "serve", "--model", str(MODEL_DIR), "--port", "0",
                        "--access-log", str(tmp_path / "missing-dir" / "a.log")],
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and b"cannot open the access log" in r.stderr, r.stderr
