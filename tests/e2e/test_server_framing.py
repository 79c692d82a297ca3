"""Strict request framing, auth before `100 Continue`, the Bearer scheme in any
case and NUL-safe error messages, on raw sockets against the real server
(RFC 9112 §6.1 and §6.3; issue 22 item 4).

Every refused framing is answered 400 (or 501) with `Connection: close` and
the connection then closes: a request pipelined behind it is never
answered, so bytes a proxy in front might frame differently cannot reach
the API as a request of their own."""
from __future__ import annotations

import json
import socket

import pytest
from conftest import Server
from helpers import MODEL_DIR
from test_server_transport import closed_by_peer, read_response

KEY = "s3cret-K3y"
DEFAULT = MODEL_DIR.name
BODY = json.dumps({"input": "hello there"}).encode()
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def keyed():
    """A server with an API key and two models (so a wrong model name is an error)."""
    s = Server("--api-key", KEY, "--model", f"mini2={MODEL_DIR}")
    yield s
    assert s.terminate() == 0, s.output()


def connect(server, timeout: float = 20.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def head(path: str = "/v1/embeddings", fields: str = "", version: str = "1.1",
         auth: str = f"Bearer {KEY}") -> bytes:
    return (f"POST {path} HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth}\r\n{fields}\r\n").encode()


def refused(server, request: bytes, http10: bool = False) -> tuple[int, dict, dict]:
    """Sends `request` then a pipelined GET /health; returns the one answer
    and asserts the connection closed after it, the GET unanswered."""
    with connect(server) as s:
        s.sendall(request + HEALTH)
        status, headers, body = read_response(s, bytearray())
        # HTTP/1.0 closes unless told otherwise, so its answer need not say so.
        assert headers.get("connection", "close" if http10 else None) == "close"
        assert closed_by_peer(s), "a second response followed the refusal"
    return status, headers, json.loads(body)


def bad_request(reason: str, path: str = "/v1/embeddings") -> dict:
    return {"error": {"message": f"the request is not valid HTTP/1.1 (POST {path}): {reason}",
                      "type": "invalid_request_error", "code": "bad_request", "param": None}}


FINAL_NOT_CHUNKED = "the final transfer coding must be chunked"


@pytest.mark.parametrize("te", ["xchunked", "gzip", "chunked, gzip", "identity", "chunked;q=1"])
def test_final_coding_not_chunked_is_400_and_closed(keyed, te):
    # A body that would be a complete request if it were framed as "no body".
    smuggled = b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n"
    status, _, body = refused(keyed, head(fields=f"Transfer-Encoding: {te}\r\n") + smuggled)
    assert status == 400
    assert body == bad_request(f"Transfer-Encoding '{te}': {FINAL_NOT_CHUNKED}")


def test_xchunked_beside_content_length_is_400_not_read_by_the_length(keyed):
    # The case: this used to be read by its Content-Length (200).
    request = head(fields=f"Transfer-Encoding: xchunked\r\nContent-Length: {len(BODY)}\r\n") + BODY
    status, _, body = refused(keyed, request)
    assert status == 400
    assert body == bad_request("Transfer-Encoding and Content-Length together: send one of them")
    # Content-Length first: Beast's parser refuses the Transfer-Encoding line itself.
    request = head(fields=f"Content-Length: {len(BODY)}\r\nTransfer-Encoding: xchunked\r\n") + BODY
    status, _, body = refused(keyed, request)
    assert status == 400 and body == bad_request("bad Transfer-Encoding")


def test_chunked_beside_content_length_is_400_and_closed(keyed):
    chunked = f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n"
    status, _, body = refused(
        keyed, head(fields=f"Transfer-Encoding: chunked\r\nContent-Length: {len(BODY)}\r\n") + chunked)
    assert status == 400 and body == bad_request("bad Content-Length")
    status, _, body = refused(
        keyed, head(fields=f"Content-Length: {len(chunked)}\r\nTransfer-Encoding: chunked\r\n") + chunked)
    assert status == 400 and body == bad_request("bad Transfer-Encoding")


@pytest.mark.parametrize("fields,reason", [
    ("Transfer-Encoding: \r\n", "Transfer-Encoding is empty"),
    ("Transfer-Encoding: chu nked\r\n", "Transfer-Encoding 'chu nked' is not a list of transfer codings"),
    ("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", "bad Transfer-Encoding"),
    ("Transfer-Encoding: gzip\r\nTransfer-Encoding: xchunked\r\n",
     f"Transfer-Encoding 'gzip, xchunked': {FINAL_NOT_CHUNKED}"),
])
def test_empty_malformed_or_split_transfer_encoding_is_400(keyed, fields, reason):
    status, _, body = refused(keyed, head(fields=fields) + b"5\r\nhello\r\n0\r\n\r\n")
    assert status == 400 and body == bad_request(reason)


def test_transfer_encoding_in_http_1_0_is_400(keyed):
    request = head(fields="Transfer-Encoding: chunked\r\n", version="1.0")
    status, _, body = refused(keyed, request + f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n",
                              http10=True)
    assert status == 400
    assert body == bad_request("Transfer-Encoding is not allowed in an HTTP/1.0 request")


def test_unsupported_coding_before_chunked_is_501_and_closed(keyed):
    status, _, body = refused(keyed, head(fields="Transfer-Encoding: gzip, chunked\r\n") + b"0\r\n\r\n")
    assert status == 501
    assert body == {"error": {
        "message": "the request cannot be read by this server: Transfer-Encoding 'gzip, chunked': "
                   "transfer coding 'gzip' is not supported (only chunked is)",
        "type": "invalid_request_error", "code": "not_implemented", "param": None}}


@pytest.mark.parametrize("lengths,reason", [
    ([len(BODY), len(BODY)], "Content-Length is given more than once"),
    ([len(BODY), len(BODY) + 1], "bad Content-Length"),  # Beast refuses the conflict itself
])
def test_repeated_content_length_is_400_and_closed(keyed, lengths, reason):
    fields = "".join(f"Content-Length: {n}\r\n" for n in lengths)
    status, _, body = refused(keyed, head(fields=fields) + BODY)
    assert status == 400 and body == bad_request(reason)


def test_tei_route_refusal_has_tei_shape(keyed):
    status, _, body = refused(keyed, head("/embed", "Transfer-Encoding: xchunked\r\n"))
    assert status == 400
    assert body == {"error": "the request is not valid HTTP/1.1 (POST /embed): Transfer-Encoding "
                             f"'xchunked': {FINAL_NOT_CHUNKED}", "error_type": "validation"}


def test_chunked_alone_in_any_case_still_works(keyed):
    with connect(keyed) as s:
        s.sendall(head(fields="Transfer-Encoding: Chunked\r\n")
                  + f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n" + HEALTH)
        buf = bytearray()
        status, headers, body = read_response(s, buf)
        assert status == 200 and len(json.loads(body)["data"]) == 1
        assert read_response(s, buf)[0] == 200  # kept alive


UNAUTHORIZED = {"error": {"message": "missing or wrong API key: send 'Authorization: Bearer <key>'",
                          "type": "invalid_request_error", "code": "invalid_api_key", "param": None}}


@pytest.mark.parametrize("auth", ["Bearer wrong", "Bearer " + KEY.upper(), "Basic " + KEY, None])
def test_expect_with_wrong_or_missing_key_is_401_before_the_body(keyed, auth):
    request = (f"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n"
               + (f"Authorization: {auth}\r\n" if auth else "") + "\r\n").encode()
    with connect(keyed, timeout=10) as s:
        s.sendall(request)  # and never the body: the answer must come without it
        status, headers, body = read_response(s, bytearray())
        assert status == 401 and json.loads(body) == UNAUTHORIZED
        assert headers["www-authenticate"] == "Bearer" and headers["connection"] == "close"
        assert closed_by_peer(s)


def test_expect_with_a_too_large_length_is_413_before_the_body(keyed):
    with connect(keyed, timeout=10) as s:
        s.sendall(head(fields="Content-Length: 4194305\r\nExpect: 100-continue\r\n"))
        status, headers, body = read_response(s, bytearray())
        assert status == 413 and headers["connection"] == "close"
        assert json.loads(body)["error"] == {
            "message": "the request body is larger than the limit of 4194304 bytes",
            "type": "invalid_request_error", "code": "payload_too_large", "param": None}
        assert closed_by_peer(s)


def test_expect_with_the_key_gets_100_then_the_answer_on_a_kept_connection(keyed):
    with connect(keyed) as s:
        s.sendall(head(fields=f"Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n", auth=f"bearer {KEY}"))
        buf = bytearray()
        assert read_response(s, buf)[0] == 100
        s.sendall(BODY)
        status, headers, body = read_response(s, buf)
        assert status == 200 and len(json.loads(body)["data"]) == 1
        assert headers.get("connection", "keep-alive") != "close"
        s.sendall(HEALTH)
        assert read_response(s, buf)[0] == 200


def test_http_1_0_expect_is_ignored_and_the_body_read(keyed):
    with connect(keyed) as s:
        s.sendall(head(fields=f"Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n", version="1.0")
                  + BODY)
        status, _, body = read_response(s, bytearray())
    assert status == 200 and len(json.loads(body)["data"]) == 1  # no 100 first


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_in_any_case_is_accepted(keyed, scheme):
    with connect(keyed) as s:
        s.sendall(f"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: {scheme} {KEY}\r\n\r\n".encode()
                  + head(fields=f"Content-Length: {len(BODY)}\r\n", auth=f"{scheme} {KEY}") + BODY
                  + f"GET /info HTTP/1.1\r\nHost: x\r\nAuthorization: {scheme} {KEY.lower()}\r\n\r\n".encode())
        buf = bytearray()
        status, _, body = read_response(s, buf)
        assert status == 200 and [m["id"] for m in json.loads(body)["data"]] == [DEFAULT, "mini2"]
        status, _, body = read_response(s, buf)
        assert status == 200 and len(json.loads(body)["data"]) == 1
        status, _, body = read_response(s, buf)  # the key itself is compared exactly
        assert status == 401 and json.loads(body) == {"error": UNAUTHORIZED["error"]["message"],
                                                      "error_type": "validation"}


def post_json(server, path: str, raw_json: bytes) -> tuple[int, bytes]:
    with connect(server) as s:
        s.sendall(head(path, f"Content-Length: {len(raw_json)}\r\n") + raw_json)
        status, _, body = read_response(s, bytearray())
    return status, body


# (path, body with a \u0000 inside one field, status, the whole message:
# the NUL shown as the six characters \u0000, and what follows it kept).
NUL_CASES = [
    ("/v1/embeddings", b'{"input": "a", "model": "mini\\u00002"}', 404,
     f"The model 'mini\\u00002' does not exist or is not served here; served models: {DEFAULT}, mini2"),
    ("/v1/embeddings", b'{"input": "a", "encoding_format": "fl\\u0000oat"}', 400,
     "'encoding_format' must be \"float\" or \"base64\", not \"fl\\u0000oat\""),
    ("/v1/embeddings", b'{"input": "a", "prompt_name": "qu\\u0000ery"}', 422,
     "unknown prompt_name 'qu\\u0000ery' (the model has no prompts)"),
    ("/embed", b'{"inputs": "a", "truncation_direction": "Le\\u0000ft"}', 422,
     "'truncation_direction' must be \"Left\" or \"Right\", not \"Le\\u0000ft\""),
    ("/embed", b'{"inputs": "a", "prompt_name": "qu\\u0000ery"}', 422,
     "unknown prompt_name 'qu\\u0000ery' (the model has no prompts)"),
    ("/tokenize", b'{"inputs": "a", "prompt_name": "qu\\u0000ery"}', 422,
     "prompt_name 'qu\\u0000ery' is not supported on /tokenize yet; /embed applies it"),
    ("/similarity", b'{"inputs": {"source_sentence": "a", "sentences": ["b"]}, '
     b'"parameters": {"truncation_direction": "\\u0000Up"}}', 422,
     "'truncation_direction' must be \"Left\" or \"Right\", not \"\\u0000Up\""),
]


@pytest.mark.parametrize("path,raw,status,message", NUL_CASES,
                         ids=[f"{c[0]}:{c[1][-24:]}" for c in NUL_CASES])
def test_nul_in_an_echoed_field_keeps_the_whole_message(keyed, path, raw, status, message):
    got, body = post_json(keyed, path, raw)
    assert got == status, body
    error = json.loads(body)["error"]
    assert (error["message"] if path.startswith("/v1/") else error) == message
    assert "\x00" not in body.decode()
