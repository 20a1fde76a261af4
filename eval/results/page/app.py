"""The VGMED leaderboard and attention viewer: a small self-contained web app over a results dataset.

Reads a results dataset (``vgmed eval publish`` layout: configurations ``runs`` and ``samples``) from the Hub
(``ORG/NAME``) or a local folder with ``datasets.load_dataset``, and serves

* ``/``: one page (``static/index.html`` + ``app.js`` + ``style.css``; no build step, no CDN, no web fonts):
  the leaderboard (sortable; filters by modality, question type and method; VGRefine minus baseline deltas)
  and the sample viewer (image with ground-truth boxes, baseline and VGRefine heat maps side by side, blocked
  tokens, question, both answers, per-sample metrics);
* ``/api/runs``: the ``runs`` rows and the filter values; ``/api/samples?run_id=``: the samples of a run;
  ``/api/sample?run_id=&id=``: one sample's details; ``/api/overlay.png?run_id=&id=&method=``: the image with
  the boxes and that method's map drawn where the token grid lies on the stored image.

Dependencies: the standard library, ``datasets``, ``numpy`` and ``pillow`` (space/requirements.txt); it does
not import vgmed-data. It ships inside the package (``vgmed_data.eval.results.page``, used by ``vgmed eval
serve RESULTS``) and, copied beside the Space files by ``scripts/space_bundle.py``, deploys as a Hub Space on its
own. Run: ``python app.py --results ORG/NAME [--host 0.0.0.0 --port 7860]`` (``RESULTS`` / ``HF_TOKEN`` from
the environment on a Space).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import mimetypes
import os
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parent / "static"
RUNS, SAMPLES, SPLIT = "runs", "samples", "train"
DISPLAY_SIDE = 320  # overlays are drawn with the image's longest side at least this many pixels
HEAT_ALPHA = 0.45
METHODS = ("baseline", "vgrefine")
SAMPLE_LIST_FIELDS = ("id", "index", "modality", "question_type", "baseline_correct", "vgrefine_correct", "ar")


# ---- data --------------------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """JSON-safe values: NaN -> None, datetimes -> ISO 8601."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Results:
    """The rows of a results dataset, in memory (samples keep their images as encoded bytes)."""

    source: str
    runs: list[dict[str, Any]]
    samples: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def facets(self) -> dict[str, list[str]]:
        slices = [s for run in self.runs for s in run["breakdown"]]
        return {"modality": sorted({s["modality"] for s in slices} - {"all"}),
                "question_type": sorted({s["question_type"] for s in slices} - {"all"}),
                "method": sorted({run["method"] for run in self.runs}),
                "protocol": sorted({run.get("protocol") or "default" for run in self.runs})}

    def samples_of(self, run_id: str) -> list[dict[str, Any]]:
        rows = [row for (rid, _), row in self.samples.items() if rid == run_id]
        return [{k: row.get(k) for k in SAMPLE_LIST_FIELDS} for row in sorted(rows, key=lambda r: r["index"])]


def _load_config(source: str, config: str, *, token: str | None, cache_dir: str) -> Any:
    from datasets import load_dataset

    return load_dataset(source, config, split=SPLIT, token=token, cache_dir=cache_dir)


def load_results(source: str, *, token: str | None = None, cache_dir: str | None = None) -> Results:
    """Load ``runs`` (required) and ``samples`` (optional) from a Hub id or a local results folder."""
    from datasets import Image as ImageFeature

    cache = cache_dir or tempfile.mkdtemp(prefix="vgmed-space-cache-")  # a rebuilt folder must not hit a stale cache
    runs = [_plain(row) for row in _load_config(source, RUNS, token=token, cache_dir=cache)]
    results = Results(source=source, runs=runs)
    try:
        table = _load_config(source, SAMPLES, token=token, cache_dir=cache)
    except (ValueError, FileNotFoundError):  # published with --no-samples: the leaderboard still works
        return results
    table = table.cast_column("image", ImageFeature(decode=False))
    for row in table:
        results.samples[(row["run_id"], row["id"])] = row
    return results


# ---- drawing -----------------------------------------------------------------------------------------------------
def colormap(values: np.ndarray) -> np.ndarray:
    """A jet-like map of values in [0, 1] to uint8 RGB (blue -> cyan -> yellow -> red)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    red = np.clip(1.5 - np.abs(4.0 * v - 3.0), 0, 1)
    green = np.clip(1.5 - np.abs(4.0 * v - 2.0), 0, 1)
    blue = np.clip(1.5 - np.abs(4.0 * v - 1.0), 0, 1)
    return (np.concatenate([red, green, blue], axis=-1) * 255).astype(np.uint8)


def draw_overlay(image: Image.Image, *, boxes: Sequence[Sequence[float]], grid: Sequence[int],
                 frame: Sequence[float], values: Sequence[float], blocked: Sequence[int] = ()) -> Image.Image:
    """The stored image, the map's token cells coloured over ``frame`` (where the model's input lies on the
    image), blocked cells darkened, ground-truth boxes in green."""
    scale = max(1.0, DISPLAY_SIDE / max(image.width, image.height))
    size = (round(image.width * scale), round(image.height * scale))
    base = image.convert("RGB").resize(size, Image.Resampling.BILINEAR).convert("RGBA")
    rows, cols = int(grid[0]), int(grid[1])
    x1, y1, x2, y2 = (float(v) * scale for v in frame)
    cell_w, cell_h = (x2 - x1) / max(cols, 1), (y2 - y1) / max(rows, 1)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if len(values) == rows * cols and rows * cols > 0:
        grid_values = np.asarray(values, dtype=np.float64).reshape(rows, cols)
        low, high = float(grid_values.min()), float(grid_values.max())
        scaled = (grid_values - low) / (high - low) if high > low else np.full_like(grid_values, 0.5)
        colours = colormap(scaled)
        for r in range(rows):
            for c in range(cols):
                red, green, blue = (int(v) for v in colours[r, c])
                draw.rectangle([x1 + c * cell_w, y1 + r * cell_h, x1 + (c + 1) * cell_w, y1 + (r + 1) * cell_h],
                               fill=(red, green, blue, int(255 * HEAT_ALPHA)))
    for index in blocked:
        r, c = divmod(int(index), max(cols, 1))
        draw.rectangle([x1 + c * cell_w, y1 + r * cell_h, x1 + (c + 1) * cell_w - 1, y1 + (r + 1) * cell_h - 1],
                       fill=(0, 0, 0, 150), outline=(255, 255, 255, 200))
    for bx1, by1, bx2, by2 in boxes:
        draw.rectangle([bx1 * scale, by1 * scale, bx2 * scale - 1, by2 * scale - 1], outline=(0, 255, 0, 255),
                       width=2)
    return Image.alpha_composite(base, layer).convert("RGB")


def overlay_png(row: Mapping[str, Any], method: str) -> bytes:
    image = Image.open(io.BytesIO(row["image"]["bytes"]))
    values = row["baseline_map"] if method == "baseline" else row["vgrefine_map"]
    blocked = row["blocked_tokens"] if method == "vgrefine" else []
    picture = draw_overlay(image, boxes=row["boxes"], grid=row["grid"], frame=row["map_frame"],
                           values=values or [], blocked=blocked or [])
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


# ---- HTTP --------------------------------------------------------------------------------------------------------
class NotFound(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    results: Results
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("VGMED_SPACE_LOG"):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any) -> None:
        self._send(200, json.dumps(_plain(value)).encode(), "application/json")

    def _sample(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        key = (query.get("run_id", [""])[0], query.get("id", [""])[0])
        row = self.results.samples.get(key)
        if row is None:
            raise NotFound(f"no sample {key[1]!r} in run {key[0]!r}")
        return row

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        split = urlsplit(self.path)
        query = parse_qs(split.query)
        try:
            if split.path == "/api/runs":
                self._json({"source": self.results.source, "runs": self.results.runs,
                            "facets": self.results.facets(), "has_samples": bool(self.results.samples)})
            elif split.path == "/api/samples":
                self._json(self.results.samples_of(query.get("run_id", [""])[0]))
            elif split.path == "/api/sample":
                row = self._sample(query)
                self._json({k: v for k, v in row.items() if k != "image"})
            elif split.path == "/api/overlay.png":
                method = query.get("method", ["baseline"])[0]
                if method not in METHODS:
                    raise NotFound(f"method {method!r}: use one of {METHODS}")
                self._send(200, overlay_png(self._sample(query), method), "image/png")
            elif split.path == "/healthz":
                self._send(200, b"ok", "text/plain")
            else:
                name = "index.html" if split.path in ("", "/") else split.path.lstrip("/")
                path = (STATIC / name).resolve()
                if STATIC not in path.parents or not path.is_file():
                    raise NotFound(split.path)
                self._send(200, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        except NotFound as error:
            self._send(404, json.dumps({"error": str(error)}).encode(), "application/json")


class Server(ThreadingHTTPServer):
    """A client that goes away mid-answer (a closed tab, a cancelled fetch) is normal, not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError...
            return
        super().handle_error(request, client_address)


def make_server(results: Results, *, host: str = "127.0.0.1", port: int = 7860) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"results": results})
    return Server((host, port), handler)


def serve_in_thread(results: Results, *, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start the server on a background thread (tests, notebooks); ``server.shutdown()`` stops it."""
    server = make_server(results, host=host, port=port)
    threading.Thread(target=server.serve_forever, name="vgmed-space", daemon=True).start()
    return server


def serve_until_interrupted(server: ThreadingHTTPServer) -> None:
    """Serve on this thread until Ctrl-C, then close the socket (also used by ``vgmed eval serve``)."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="VGMED leaderboard and attention viewer")
    parser.add_argument("--results", default=os.environ.get("RESULTS"),
                        help="results dataset: Hub id ORG/NAME or a local folder (env RESULTS)")
    parser.add_argument("--host", default=os.environ.get("HOST_ADDRESS", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "7860")))
    args = parser.parse_args(argv)
    if not args.results:
        parser.error("give --results ORG/NAME (or a folder), or set RESULTS")
    results = load_results(args.results, token=os.environ.get("HF_TOKEN") or None)
    server = make_server(results, host=args.host, port=args.port)
    print(f"VGMED leaderboard: {len(results.runs)} rows from {args.results} on http://{args.host}:{args.port}/",
          flush=True)
    serve_until_interrupted(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
