"""A small process that answers for its callers: it loads an engine once, then runs each request in a fork of
itself. eSpeak's (kws.synth.espeak_server) is the one: kws.synth.espeak's docstring says why every utterance
needs a fresh engine.

A fork costs in proportion to the process forked: ~20 ms from a kws-synth worker (numpy, scipy, Hydra:
~115 MB), a few ms from this process (numpy and eSpeak: ~30 MB), while eSpeak speaks a word in ~1 ms. So
each process that speaks starts one of these and sends it its requests over a pipe.

Protocol, both directions length-prefixed: a pickled request in; one status byte (0 ok, 1 error message)
and the payload out.
"""

import atexit
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from kws.errors import KWSError

_HEADER = 4
CLOSE_WAIT_S = 5.0


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return data


class Client:
    """One fork server for this process (a process forked from this one starts its own), running
    `server_module` (one that calls `serve`)."""

    def __init__(self, server_module: str) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        # -P: the installed kws, never one that happens to be in the working directory
        self._server = subprocess.Popen(
            [sys.executable, "-P", "-m", server_module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        atexit.register(self.close)

    def call(self, request: tuple, doing: str) -> bytes:
        message = pickle.dumps((request, doing))
        with self._lock:
            try:
                self._server.stdin.write(len(message).to_bytes(_HEADER, "big") + message)
                self._server.stdin.flush()
                status = _read_exactly(self._server.stdout, 1)[0]
                size = int.from_bytes(_read_exactly(self._server.stdout, _HEADER), "big")
                payload = _read_exactly(self._server.stdout, size)
            except (BrokenPipeError, EOFError):
                raise KWSError(f"eSpeak's fork server (pid {self._server.pid}) died {doing}") from None
        if status:
            raise KWSError(payload.decode(errors="replace"))
        return payload

    def running(self) -> bool:
        return self._server.poll() is None

    def close(self) -> None:
        if os.getpid() != self.pid or self._server.poll() is not None:
            return
        self._server.stdin.close()  # the server's end of file: it returns
        try:
            self._server.wait(timeout=CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:  # a child forked from this process still holds its stdin open
            self._server.kill()
            self._server.wait()


def serve(load: Callable[[], None], answer: Callable[[tuple, str], bytes]) -> None:
    """The server's loop: `load()` once, then `answer(request, doing)` for each request until stdin ends."""
    # The requests' answers travel on stdout: anything printed (eSpeak's warnings) goes to stderr instead.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    load()
    while header := requests.read(_HEADER):
        request, doing = pickle.loads(_read_exactly(requests, int.from_bytes(header, "big")))
        try:
            payload, status = answer(request, doing), 0
        except KWSError as err:
            payload, status = str(err).encode(), 1
        answers.write(bytes([status]) + len(payload).to_bytes(_HEADER, "big") + payload)
        answers.flush()
