"""kws-demo's web server: the page, the model's description, a WebSocket per microphone and an upload for
dropped files, behind one guard.

The guard: a server bound to loopback answers only requests addressed to a loopback name (Host), so a web
page elsewhere cannot reach it by pointing a name of its own at 127.0.0.1 (DNS rebinding); a WebSocket or
an upload must come from a page of this server (Origin), because browsers let any page open WebSockets
and post to any address. Audio stays in memory: nothing is written to disk.
"""

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from kws.demo.session import Limits, stream
from kws.errors import KWSError
from kws.ship.detector import detect
from kws.ship.runtime import Spotter, read_audio

STATIC = Path(__file__).parent / "static"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Demo:
    spotter: Spotter
    settings: dict  # kws-detect's settings (kws.ship.detector.settings_for)
    host: str = "127.0.0.1"
    limits: Limits = field(default_factory=Limits)
    open_sessions: set = field(default_factory=set)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK


DEMO = web.AppKey("demo", Demo)


def build_app(demo: Demo) -> web.Application:
    app = web.Application(client_max_size=demo.limits.upload_bytes, middlewares=[guard])
    app[DEMO] = demo
    app.router.add_get("/", index)
    app.router.add_get("/api/model", model)
    app.router.add_get("/api/listen", listen)
    app.router.add_post("/api/detect", detect_file)
    app.router.add_static("/static", STATIC)
    return app


def _host_and_port(netloc: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(f"//{netloc}")
        return parts.hostname or "", parts.port
    except ValueError:
        return "", None


def refusal(request: web.Request, demo: Demo) -> str | None:
    """Why this request is refused, or None."""
    host, _ = _host_and_port(request.host)
    if demo.loopback and host not in LOOPBACK:
        return f"kws-demo answers only loopback addresses, not {request.host}"
    if request.method == "GET" and request.path != "/api/listen":
        return None
    origin = request.headers.get("Origin")
    if origin is None:
        return "no Origin header: kws-demo's WebSocket and upload serve its own page only"
    scheme, (origin_host, origin_port) = urlsplit(origin).scheme, _host_and_port(urlsplit(origin).netloc)
    own_port = _host_and_port(request.host)[1]
    same_place = (origin_host in LOOPBACK) if demo.loopback else (urlsplit(origin).netloc == request.host)
    if scheme not in ("http", "https") or not same_place or origin_port != own_port:
        return f"Origin {origin} is not this page's"
    return None


@web.middleware
async def guard(request: web.Request, handler: Callable) -> web.StreamResponse:
    problem = refusal(request, request.app[DEMO])
    if problem:
        return web.json_response({"error": problem}, status=403)
    response = await handler(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def model(request: web.Request) -> web.Response:
    demo = request.app[DEMO]
    spotter = demo.spotter
    return web.json_response(
        {
            "source": Path(spotter.source).parent.name + "/" + Path(spotter.source).name,
            "labels": list(spotter.labels),
            "sample_rate": spotter.sample_rate,
            "settings": demo.settings,
            "calibrated": bool(spotter.detection),
        }
    )


async def listen(request: web.Request) -> web.WebSocketResponse:
    demo = request.app[DEMO]
    return await stream(request, demo.spotter, demo.settings, demo.limits, demo.open_sessions)


async def detect_file(request: web.Request) -> web.Response:
    """A dropped file, decoded in memory as kws-predict decodes files (any rate, any channels), through
    kws-detect's own detect(): the same detections as kws-detect on that file."""
    demo = request.app[DEMO]
    body = await request.read()  # at most client_max_size: a bigger one was answered 413
    name = Path(request.query.get("name", "the dropped file")).name[:200]

    def run() -> dict:
        audio = io.BytesIO(body)
        audio.name = name
        samples, notes = read_audio(audio, demo.spotter.sample_rate)
        seconds = len(samples) / demo.spotter.sample_rate
        if seconds > demo.limits.upload_s:
            raise KWSError(
                f"{name}: {seconds:.0f} s of audio; kws-demo takes up to {demo.limits.upload_s:g} s"
            )
        found = detect(demo.spotter.preparation.waveform(samples), demo.spotter, **demo.settings)
        return {
            "name": name,
            "seconds": seconds,
            "notes": notes,
            "detections": [{"label": d.label, "time": d.time, "prob": d.prob} for d in found],
        }

    try:
        return web.json_response(await asyncio.get_running_loop().run_in_executor(None, run))
    except KWSError as err:
        return web.json_response({"error": str(err)}, status=400)


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


async def serve(app: web.Application, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Listen until cancelled; `announce` gets the page's address once the port is open."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        announce(page_url(host, runner.addresses[0][1]))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
