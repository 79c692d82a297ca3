"""Serving at scale on Ray Serve: a deployment of akidb_embed.Embedder
replicas that Ray Serve autoscales on ongoing requests (its queue depth).

    python -m akidb_embed.ray_serve --model MODEL_DIR [--port 8000] [--max-replicas 4] ...

or, on a running cluster, `serve run akidb_embed.ray_serve:app_builder
model_dir=MODEL_DIR max_replicas=8`. POST /v1/embeddings takes the OpenAI
shape ({"input": "text" or ["text", ...]}) and answers it
({"data": [{"embedding": [...], "index": i}], ...}). Concurrent requests on a
replica are merged into one library call (serve.batch). See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network at run time

from ray import serve  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402

from ._errors import EmbedError, InvalidInputError  # noqa: E402


def texts_of(body: Any) -> list[str]:
    """The request's texts; InvalidInputError for anything but a non-empty
    string or list of strings under "input"."""
    if not isinstance(body, dict) or "input" not in body:
        raise InvalidInputError('the body must be a JSON object with "input"')
    texts = body["input"]
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise InvalidInputError('"input" must be a string or a non-empty list of strings')
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(f"input {i} is {type(t).__name__}, not a string", index=i)
    return texts


class EmbedDeployment:
    """One replica: one Embedder with `threads` ONNX Runtime threads (and as
    many CPUs reserved). Requests that arrive together are embedded in one
    library call; a batch with a bad input is redone request by request so
    only that request fails."""

    def __init__(self, model_dir: str, variant: str | None = None, threads: int = 1):
        import akidb_embed

        self.embedder = akidb_embed.Embedder(model_dir, variant=variant, threads=threads)
        self.model = str(self.embedder.info["model"])

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def embed_requests(self, requests: list[list[str]]) -> list[Any]:
        return await asyncio.to_thread(self._embed_together, requests)

    def _embed_together(self, requests: list[list[str]]) -> list[Any]:
        flat = [t for r in requests for t in r]
        try:
            vectors = self.embedder.encode(flat, batch_size=len(flat))
        except InvalidInputError:
            return [self._embed_one(r) for r in requests]
        out, start = [], 0
        for r in requests:
            out.append(vectors[start:start + len(r)])
            start += len(r)
        return out

    def _embed_one(self, texts: list[str]) -> Any:
        try:
            return self.embedder.encode(texts, batch_size=len(texts))
        except EmbedError as e:
            return e

    async def __call__(self, request: Request) -> JSONResponse:
        if request.method != "POST" or request.url.path.rstrip("/") != "/v1/embeddings":
            return error_response(404, "not_found", "POST /v1/embeddings")
        try:
            texts = texts_of(await request.json())
        except ValueError as e:  # not JSON, or InvalidInputError
            return error_response(400, "invalid_input", str(e))
        result = await self.embed_requests(texts)
        if isinstance(result, EmbedError):
            return error_response(400 if result.code == "invalid_input" else 503, result.code, str(result))
        return JSONResponse({
            "object": "list", "model": self.model,
            "data": [{"object": "embedding", "index": i, "embedding": v.tolist()}
                     for i, v in enumerate(result)]})


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": code}}, status_code=status)


def app(model_dir: str, variant: str | None = None, threads: int = 1, min_replicas: int = 1,
        max_replicas: int = 4, target_ongoing_requests: float = 2.0, upscale_delay_s: float = 3.0,
        downscale_delay_s: float = 60.0, max_ongoing_requests: int = 16):
    """The Serve application: EmbedDeployment autoscaled between min_replicas
    and max_replicas so that each replica has about target_ongoing_requests
    requests in flight (Ray Serve's queue-depth metric)."""
    deployment = serve.deployment(
        EmbedDeployment, name="akidb-embed", max_ongoing_requests=max_ongoing_requests,
        ray_actor_options={"num_cpus": threads},
        autoscaling_config={"min_replicas": min_replicas, "max_replicas": max_replicas,
                            "target_ongoing_requests": target_ongoing_requests,
                            "upscale_delay_s": upscale_delay_s,
                            "downscale_delay_s": downscale_delay_s})
    return deployment.bind(os.path.abspath(model_dir), variant, threads)


def app_builder(args: dict[str, str]):
    """For `serve run akidb_embed.ray_serve:app_builder model_dir=... max_replicas=...`."""
    types = {"threads": int, "min_replicas": int, "max_replicas": int, "max_ongoing_requests": int,
             "target_ongoing_requests": float, "upscale_delay_s": float, "downscale_delay_s": float}
    return app(**{k: types.get(k, str)(v) for k, v in args.items()})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m akidb_embed.ray_serve", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="prepared model folder (the same path on every node)")
    p.add_argument("--variant")
    p.add_argument("--threads", type=int, default=1, help="threads (and CPUs) per replica")
    p.add_argument("--min-replicas", type=int, default=1)
    p.add_argument("--max-replicas", type=int, default=4)
    p.add_argument("--target-ongoing-requests", type=float, default=2.0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else a local one)")
    args = p.parse_args(argv)
    import ray

    ray.init(address=args.address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
             logging_level="WARNING")
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(app(args.model, args.variant, args.threads, args.min_replicas, args.max_replicas,
                  args.target_ongoing_requests), blocking=True)


if __name__ == "__main__":
    main()
