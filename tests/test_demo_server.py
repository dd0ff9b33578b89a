"""kws-demo's server without a browser: its page, its guards and bounds, one stream through kws-detect's
detector, and the dropped-file upload (aiohttp's test client; a fake model, so nothing trains)."""

import asyncio
import io
import json

import numpy as np
import pytest
import soundfile as sf
from aiohttp import WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from kws.commands import demo as demo_command
from kws.demo.server import Demo, build_app, page_url
from kws.demo.session import Budget, Limits
from kws.ship.detector import detect
from tests.test_detect import fake_spotter, loud

SETTINGS = {"hop_s": 0.1, "smooth": 3, "threshold": 0.8, "refractory_s": 1.0, "gate_db": 35.0}


def spotter():
    return fake_spotter(["no", "yes"], [0.0, 8.0])  # 1000 Hz, 0.2 s windows, "yes" everywhere there is sound


def run(check, limits: Limits | None = None, host: str = "127.0.0.1"):
    """Run `check(client, origin)` against a kws-demo server on a free loopback port."""

    async def main():
        app = build_app(Demo(spotter(), SETTINGS, host, limits or Limits()))
        async with TestClient(TestServer(app)) as client:
            await check(client, f"http://127.0.0.1:{client.port}")

    asyncio.run(main())


def pcm(audio: np.ndarray) -> bytes:
    return np.round(audio * 32768).clip(-32768, 32767).astype("<i2").tobytes()


@pytest.fixture(autouse=True)
def nothing_written(tmp_path, monkeypatch):
    """Every test here runs in an empty folder, which must stay empty: kws-demo writes no audio."""
    monkeypatch.chdir(tmp_path)
    yield
    assert list(tmp_path.iterdir()) == []


def test_the_page_its_files_and_the_model_description_are_served():
    async def check(client, origin):
        page = await client.get("/")
        assert page.status == 200 and "kws-demo" in await page.text()
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        for name in ("app.js", "bars.js", "worklet.js", "style.css"):
            assert (await client.get(f"/static/{name}")).status == 200
        model = await (await client.get("/api/model")).json()
        assert model["labels"] == ["no", "yes"] and model["sample_rate"] == 1000
        assert model["settings"] == SETTINGS

    run(check)


def test_a_stream_pushed_in_messages_detects_what_kws_detect_does():
    audio = np.concatenate([np.zeros(500, np.float32), loud(3.0), np.zeros(800, np.float32)])

    async def check(client, origin):
        socket = await client.ws_connect("/api/listen", headers={"Origin": origin})
        found, first = [], None
        for piece in np.array_split(audio, 43):
            await socket.send_bytes(pcm(piece))
            heard = await socket.receive_json()
            assert heard["type"] == "heard" and set(heard) >= {"posteriors", "level_dbfs", "seconds"}
            found += heard["detections"]
            first = heard["first_sound_s"]
        await socket.send_str(json.dumps({"type": "stop"}))
        finished = await socket.receive_json()
        assert finished["type"] == "finished" and finished["seconds"] == len(audio) / 1000
        found += finished["detections"]
        assert (await socket.receive()).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        samples = np.round(audio * 32768).clip(-32768, 32767) / 32768
        expected = detect(samples.astype(np.float32), spotter(), **SETTINGS)
        assert found == [{"label": d.label, "time": d.time, "prob": d.prob} for d in expected]
        assert len(found) == 3 and first == 0.501  # loud() starts at sin(0)

    run(check)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},  # another site's page
        {"Origin": "http://127.0.0.1:1"},  # another local server's page
        {},  # no Origin: not a browser page of ours
        {"Origin": "null"},
    ],
)
def test_a_websocket_from_another_origin_is_refused(headers):
    async def check(client, origin):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/api/listen", headers=headers)
        assert refused.value.status == 403

    run(check)


def test_a_name_that_is_not_loopback_is_refused_dns_rebinding():
    async def check(client, origin):
        page = await client.get("/", headers={"Host": f"attacker.example:{client.port}"})
        assert page.status == 403 and "loopback" in (await page.json())["error"]

    run(check)


async def _other_client_still_works(client, origin):
    socket = await client.ws_connect("/api/listen", headers={"Origin": origin})
    await socket.send_bytes(pcm(loud(0.5)))
    assert (await socket.receive_json())["type"] == "heard"
    await socket.close()


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda s: s.send_bytes(b"\0" * 70_000), 1009),  # over the message size
        (lambda s: s.send_str("hello"), 1003),  # text that is not a command
        (lambda s: s.send_bytes(b"\1\2\3"), 1008),  # not 16-bit samples
    ],
    ids=["too-big", "garbage-text", "odd-bytes"],
)
def test_a_client_that_breaks_the_protocol_is_closed_and_the_others_go_on(send, code):
    async def check(client, origin):
        good = await client.ws_connect("/api/listen", headers={"Origin": origin})
        bad = await client.ws_connect("/api/listen", headers={"Origin": origin})
        await send(bad)
        closed = await bad.receive()
        assert closed.type == WSMsgType.CLOSE and closed.data == code
        await good.send_bytes(pcm(loud(0.3)))
        assert (await good.receive_json())["type"] == "heard"
        await _other_client_still_works(client, origin)

    run(check)


def test_audio_faster_than_real_time_closes_that_client():
    async def check(client, origin):
        socket = await client.ws_connect("/api/listen", headers={"Origin": origin})
        for _ in range(10):  # 10 s of audio at 1000 Hz in a moment: over the 5 s burst
            await socket.send_bytes(pcm(loud(1.0)))
        messages = [await socket.receive() for _ in range(6)]
        closing = next(m for m in messages if m.type == WSMsgType.CLOSE)
        assert closing.data == 1008 and "faster than" in closing.extra
        await _other_client_still_works(client, origin)

    run(check)


def test_the_budget_allows_real_time_and_a_burst_and_bounds_messages():
    now = [0.0]
    budget = Budget(Limits(burst_s=5.0, speed=1.5, messages_per_s=50), clock=lambda: now[0])
    for _ in range(600):  # a minute of a microphone: ten 0.1 s messages a second
        now[0] += 0.1
        assert budget.charge(0.1) is None
    assert "faster than 1.5x" in budget.charge(60.0)  # 120 s in 60 s: over 5 s + 1.5 x 60 s
    chatty = Budget(Limits(messages_per_s=50), clock=lambda: 0.0)
    assert all(chatty.charge(0) is None for _ in range(50)) and "messages a second" in chatty.charge(0)


def test_more_microphones_than_allowed_are_told_to_come_back_later():
    async def check(client, origin):
        first = await client.ws_connect("/api/listen", headers={"Origin": origin})
        await first.send_bytes(pcm(loud(0.1)))
        await first.receive_json()
        second = await client.ws_connect("/api/listen", headers={"Origin": origin})
        closed = await second.receive()
        assert closed.type == WSMsgType.CLOSE and closed.data == 1013

    run(check, Limits(sessions=1))


def test_a_dropped_file_of_any_rate_and_channels_gives_kws_detects_detections():
    audio = np.concatenate([np.zeros(2000), loud(3.0, 2000), np.zeros(1000)])
    stereo = io.BytesIO()
    sf.write(stereo, np.column_stack([audio, audio]), 2000, format="WAV", subtype="PCM_16")

    async def check(client, origin):
        answer = await client.post(
            "/api/detect?name=a.wav", data=stereo.getvalue(), headers={"Origin": origin}
        )
        result = await answer.json()
        assert answer.status == 200, result
        assert result["notes"] == ["down-mixed 2 channels to mono", "resampled 2000 Hz to 1000 Hz"]
        assert len(result["detections"]) == 3 and result["seconds"] == 3.0 + 1.5
        garbage = await client.post("/api/detect?name=n.wav", data=b"not audio", headers={"Origin": origin})
        assert garbage.status == 400 and (await garbage.json())["error"].startswith(
            "n.wav: cannot read audio"
        )
        foreign = await client.post(
            "/api/detect", data=stereo.getvalue(), headers={"Origin": "http://x.example"}
        )
        assert foreign.status == 403
        huge = await client.post(
            "/api/detect", data=stereo.getvalue() + b"\0" * 200, headers={"Origin": origin}
        )
        assert huge.status == 413

    run(check, Limits(upload_bytes=len(stereo.getvalue()) + 100))


def test_kws_demo_says_where_it_listens_and_warns_off_loopback(monkeypatch, capsys):
    monkeypatch.setattr(demo_command, "load_spotter", lambda path: spotter())

    async def fake_serve(app, host, port, announce):
        announce(page_url(host, 8123))

    monkeypatch.setattr(demo_command, "serve", fake_serve)
    demo_command.main(["model", "--port", "0"])
    captured = capsys.readouterr()
    assert "http://127.0.0.1:8123/" in captured.out and captured.err == ""
    demo_command.main(["model", "--host", "0.0.0.0"])
    captured = capsys.readouterr()
    assert "listening on 0.0.0.0, not only this machine" in captured.err


def test_a_busy_port_and_bad_settings_are_one_error_line(monkeypatch, capsys):
    monkeypatch.setattr(demo_command, "load_spotter", lambda path: spotter())

    async def busy(app, host, port, announce):
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(demo_command, "serve", busy)
    for argv, message in [
        (["model", "--port", "8000"], "kws-demo: cannot listen on 127.0.0.1:8000 (Address already in use)"),
        (["model", "--threshold", "2"], "--threshold must be in (0, 1], got 2.0"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            demo_command.main(argv)
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and error.startswith("kws: error: ") and message in error
        assert error.count("\n") == 1
