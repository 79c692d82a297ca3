"""The scheduler's watchdog and the bounded drain against the real binary
(docs/server.md, "Watchdog"). The hidden test hook `--inject-hang-after N`
makes the Nth batch run never return, the way a hung engine never does.

Nothing here asserts speed: a request that the watchdog did not fail would
get 504 at its 60 s deadline, not 503; a drain that is not bounded would
never end (the wait below gives up long after the bound)."""
from __future__ import annotations

import re
import time

import requests

from helpers import MODEL_DIR

STUCK = re.compile(r"the engine is stuck: a batch of 1 inputs \(3 tokens, longest 3\) has run for "
                   r"[0-9.]+ s, over its bound of [0-9.]+ s; this model fails every request until "
                   r"the server is restarted")
DRAIN_TIMEOUT_S = 2


def embed(s, text: str, model: str | None = None) -> requests.Response:
    body = {"input": text} if model is None else {"input": text, "model": model}
    return requests.post(s.url + "/v1/embeddings", json=body, timeout=120)


def trips(s) -> dict[str, float]:
    text = requests.get(s.url + "/metrics", timeout=10).text
    return {m: float(v) for m, v in re.findall(r'^akidb_watchdog_trips_total\{model="([^"]+)"\} (\S+)$', text, re.M)}


def test_a_stuck_run_fails_its_request_with_503_and_sigterm_exits_within_the_drain_timeout(start_server):
    s = start_server("--inject-hang-after", "3", "--watchdog-floor-s", "1", "--request-timeout-ms", "60000",
                     "--drain-timeout-s", str(DRAIN_TIMEOUT_S))
    name = requests.get(s.url + "/info", timeout=10).json()["served_model_name"]
    # Two runs measure the engine's speed (the bound is then the 1 s floor or
    # 50x a run's time); the third never returns.
    assert embed(s, "first").status_code == 200
    assert embed(s, "second").status_code == 200
    assert trips(s) == {name: 0.0}

    stuck = embed(s, "third")
    assert stuck.status_code == 503, stuck.text  # not 504 at the 60 s deadline
    message = stuck.json()["error"]["message"]
    assert STUCK.fullmatch(message), message

    health = requests.get(s.url + "/health", timeout=10)
    assert health.status_code == 503
    assert health.json()["error"] == f"model {name}: {message}"
    assert trips(s) == {name: 1.0}
    again = requests.post(s.url + "/embed", json={"inputs": "fourth"}, timeout=120)
    assert again.status_code == 503 and again.json()["error"] == message  # sticky, at once
    log = s.output()
    assert log.count("the engine is stuck") == 1, log
    line = next(l for l in log.splitlines() if "the engine is stuck" in l)
    assert line.startswith(f"akidb-embed: model {name}: {message} model={name} sequences=1 tokens=3 "
                           "longest=3 elapsed_s="), line
    assert " bound_s=" in line

    # The stuck run holds a scheduler worker that cannot be joined: the
    # drain gives up after its timeout, logs it, and exits with status 3.
    start = time.monotonic()
    code = s.terminate(timeout=60)
    waited = time.monotonic() - start
    assert code == 3, s.output()
    assert waited >= DRAIN_TIMEOUT_S
    assert (f"akidb-embed: stopping took longer than the drain timeout ({DRAIN_TIMEOUT_S} s, "
            "--drain-timeout-s): a thread is stuck inside an engine run; exiting now with status 3") in s.output()


def test_a_stuck_non_default_model_shows_in_health_without_taking_the_others_out(start_server):
    s = start_server("--model", f"b={MODEL_DIR}", "--inject-hang-after", "2", "--watchdog-bound-s", "1",
                     "--request-timeout-ms", "60000", "--drain-timeout-s", str(DRAIN_TIMEOUT_S),
                     model=f"a={MODEL_DIR}")
    assert embed(s, "first", "b").status_code == 200
    stuck = embed(s, "third", "b")
    assert stuck.status_code == 503 and STUCK.fullmatch(stuck.json()["error"]["message"]), stuck.text
    assert embed(s, "first", "a").status_code == 200  # a's own first run

    health = requests.get(s.url + "/health", timeout=10)
    assert health.status_code == 200
    models = health.json()["models"]
    assert models["a"] == {"status": "ok"}
    assert models["b"]["status"] == "unhealthy" and STUCK.fullmatch(models["b"]["message"]), models
    assert trips(s) == {"a": 0.0, "b": 1.0}
    assert s.terminate(timeout=60) == 3
