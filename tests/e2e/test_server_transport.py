"""The HTTP/1.1 transport through the real server, on raw sockets where the
bytes matter: keep-alive, pipelining, HEAD, Expect: 100-continue, chunked
bodies, deadlines, the connection cap, slow clients and graceful stop."""
from __future__ import annotations

import json
import socket
import threading

import requests
from test_scheduling import metric, wait_for

BODY = json.dumps({"input": "hello there"}).encode()


def connect(server, timeout: float = 30.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def post(body: bytes = BODY, extra: str = "") -> bytes:
    return (f"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def read_response(sock: socket.socket, buf: bytearray, head: bool = False) -> tuple[int, dict, bytes]:
    """Reads one response from sock (buf keeps what follows it); a response
    to HEAD has no body whatever its Content-Length."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {bytes(buf)!r}")
        buf += chunk
    header, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = header.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = 0 if head or status in (100, 204) else int(headers.get("content-length", 0))
    buf[:] = rest
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return status, headers, body


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_pipelined_requests_answered_in_order_on_one_connection(server):
    with connect(server) as s:
        s.sendall(post(json.dumps({"input": "one"}).encode()) + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  + post(json.dumps({"input": ["two", "three"]}).encode()))
        buf = bytearray()
        first, second, third = (read_response(s, buf) for _ in range(3))
    assert first[0] == 200 and len(json.loads(first[2])["data"]) == 1
    assert second[0] == 200 and json.loads(second[2]) == {"status": "ok"}
    assert third[0] == 200 and len(json.loads(third[2])["data"]) == 2


def test_head_sends_the_get_length_without_a_body(server):
    with connect(server) as s:
        s.sendall(b"HEAD /info HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = bytearray()
        status, headers, body = read_response(s, buf, head=True)
        assert status == 200 and body == b"" and int(headers["content-length"]) > 10
        # The next response starts right where the HEAD response's headers ended.
        assert read_response(s, buf)[0] == 200


def test_expect_100_continue(server):
    with connect(server) as s:
        s.sendall(post(extra="Expect: 100-continue\r\n")[: -len(BODY)])
        buf = bytearray()
        assert read_response(s, buf)[0] == 100
        s.sendall(BODY)
        assert read_response(s, buf)[0] == 200


def test_too_large_body_refused_before_it_is_sent(server):
    with connect(server) as s:
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 999999999\r\nExpect: 100-continue\r\n\r\n")
        status, headers, body = read_response(s, bytearray())
    assert status == 413 and headers["connection"] == "close"
    assert "4194304" in json.loads(body)["error"]["message"]


def test_chunked_request_body(server):
    r = requests.post(server.url + "/v1/embeddings", data=iter([b'{"input": ', b'"chunked"}']),
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200 and len(r.json()["data"]) == 1


def test_malformed_request_is_400_and_closed(server):
    with connect(server) as s:
        s.sendall(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
        status, headers, body = read_response(s, bytearray())
        assert status == 400 and headers["connection"] == "close"
        assert json.loads(body)["error"]["type"] == "invalid_request_error"
        assert closed_by_peer(s)


def test_header_deadline_is_408_and_idle_connections_close(start_server):
    s = start_server("--io-timeout", "1", "--keep-alive-timeout", "1")
    with connect(s) as slow:
        slow.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        status, headers, body = read_response(slow, bytearray())
        assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
    with connect(s) as slow_body:
        slow_body.sendall(post()[:-3])  # headers, then most of the body
        assert read_response(slow_body, bytearray())[0] == 408
    with connect(s) as idle:
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(idle, bytearray())[0] == 200
        assert closed_by_peer(idle)  # after the keep-alive timeout, no error response


def test_connection_cap_refuses_with_503_then_recovers(start_server):
    s = start_server("--max-connections", "4")
    held = [connect(s) for _ in range(4)]
    for h in held:  # all four accepted and served
        h.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(h, bytearray())[0] == 200
    with connect(s) as extra:
        status, headers, body = read_response(extra, bytearray())
        assert status == 503 and headers["retry-after"] == "1"
        assert json.loads(body)["error"]["code"] == "too_many_connections"
    held.pop().close()
    for _ in range(100):  # the server notices the close asynchronously
        try:
            if requests.get(s.url + "/health", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            pass
    else:
        raise AssertionError("no connection accepted after one closed")
    for h in held:
        h.close()


def test_slow_clients_cost_a_socket_not_a_thread(start_server):
    # Two handler threads and 300 clients trickling headers: cpp-httplib gave
    # each connection a thread, so this request used to wait for them.
    s = start_server("--http-threads", "2")
    slow = [connect(s) for _ in range(300)]
    for c in slow:
        c.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(5):
            r = requests.post(s.url + "/v1/embeddings", json={"input": "still served"}, timeout=5)
            assert r.status_code == 200
    finally:
        for c in slow:
            c.close()


def test_graceful_stop_finishes_the_request_in_flight(start_server):
    s = start_server()
    long_inputs = [" ".join(["words to read"] * 60)] * 48
    result: dict = {}

    def bulk():
        result["r"] = requests.post(s.url + "/v1/embeddings", json={"input": long_inputs}, timeout=120)

    worker = threading.Thread(target=bulk)
    worker.start()
    # Stop once the server holds the request (some of its inputs still queued).
    assert wait_for(lambda: metric(s.url, "akidb_queue_sequences") > 0), "the request never queued"
    assert s.terminate() == 0, s.output()
    worker.join()
    assert result["r"].status_code == 200 and len(result["r"].json()["data"]) == 48
    assert "stopped" in s.output()
