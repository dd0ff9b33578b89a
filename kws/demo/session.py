"""One page's microphone stream: int16 audio in over a WebSocket, what the model heard out, with bounds.

The client sends binary messages of 16-bit little-endian mono samples at the model's rate, and may send
{"type": "stop"} (the server then decides the last crossings, answers and closes). Each message is fed to
a kws.ship.listener.Listener, kws-detect's detector taking audio as it comes, and answered with one JSON
message. A client that breaks the protocol or the bounds is closed; the others go on.
"""

import asyncio
import json
import time
from dataclasses import dataclass

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from kws.ship.listener import Heard, Listener
from kws.ship.runtime import Spotter


@dataclass(frozen=True)
class Limits:
    message_bytes: int = 64 * 1024  # one WebSocket message: 2 s of 16 kHz audio (a page sends 0.1 s)
    burst_s: float = 5.0  # seconds of audio a client may send ahead of the clock …
    speed: float = 1.5  # … and how much faster than real time it may send after that
    messages_per_s: float = 50.0  # a page sends ten a second
    sessions: int = 4  # microphones streaming at once (each costs a core's share)
    upload_bytes: int = 50 * 1024 * 1024  # a dropped file
    upload_s: float = 600.0  # seconds of audio in a dropped file


class Budget:
    """Two token buckets, audio seconds and messages, filled by the clock: a microphone never runs dry,
    a script pushing a file as fast as it can soon does."""

    def __init__(self, limits: Limits, clock=time.monotonic) -> None:
        self.limits, self.clock, self.start = limits, clock, clock()
        self.audio_s = self.messages = 0.0

    def charge(self, seconds: float) -> str | None:
        elapsed = self.clock() - self.start
        self.audio_s += seconds
        self.messages += 1
        if self.audio_s > self.limits.burst_s + self.limits.speed * elapsed:
            return f"audio arrives faster than {self.limits.speed:g}x real time"
        if self.messages > self.limits.messages_per_s * (1 + elapsed):
            return f"more than {self.limits.messages_per_s:g} messages a second"
        return None


def report(heard: Heard, listener: Listener, final: bool = False) -> dict:
    """What the page shows: the newest window's smoothed posteriors, the level, new detections."""
    labels = listener.spotter.labels
    newest = heard.smoothed[-1] if len(heard.smoothed) else None
    return {
        "type": "finished" if final else "heard",
        "seconds": round(listener.seconds_heard, 3),
        "level_dbfs": heard.level_dbfs,
        "posteriors": None
        if newest is None
        else {k: round(float(p), 4) for k, p in zip(labels, newest, strict=True)},
        "detections": [{"label": d.label, "time": d.time, "prob": d.prob} for d in heard.detections],
        "first_sound_s": listener.first_sound_s,
    }


async def stream(
    request: web.Request, spotter: Spotter, settings: dict, limits: Limits, open_sessions: set
) -> web.WebSocketResponse:
    """The WebSocket of one page (the Origin was checked before: server.guard)."""
    socket = web.WebSocketResponse(max_msg_size=limits.message_bytes, heartbeat=30)
    await socket.prepare(request)
    if len(open_sessions) >= limits.sessions:
        await socket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many microphones are streaming")
        return socket
    open_sessions.add(socket)
    try:
        await _answer(socket, Listener(spotter, **settings), Budget(limits))
    except ConnectionResetError:  # the page went away while it was being answered
        pass
    finally:
        open_sessions.discard(socket)
    return socket


async def _answer(socket: web.WebSocketResponse, listener: Listener, budget: Budget) -> None:
    """Each message in turn, until the page stops, breaks a bound or goes."""
    loop, preparation = asyncio.get_running_loop(), listener.spotter.preparation
    async for message in socket:
        if message.type == WSMsgType.BINARY:
            problem = budget.charge(len(message.data) / 2 / preparation.sample_rate)
            if len(message.data) % 2:
                problem = "audio must be 16-bit samples (an even number of bytes)"
            if problem:
                await socket.close(code=WSCloseCode.POLICY_VIOLATION, message=problem.encode())
                return
            samples = preparation.waveform(np.frombuffer(message.data, "<i2"))
            heard = await loop.run_in_executor(None, listener.push, samples)
            await socket.send_json(report(heard, listener))
        elif message.type == WSMsgType.TEXT and _is_stop(message.data):
            heard = await loop.run_in_executor(None, listener.finish)
            await socket.send_json(report(heard, listener, final=True))
            await socket.close()
            return
        else:  # text that is not a command; an error (too big: aiohttp has closed it with 1009)
            if not socket.closed:
                await socket.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"not kws-demo audio")
            return


def _is_stop(text: str) -> bool:
    try:
        return json.loads(text) == {"type": "stop"}
    except ValueError:
        return False
