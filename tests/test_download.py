"""data.download=true goes through torchaudio's SPEECHCOMMANDS download; here the network is faked."""

import io
import socket
import sys
import tarfile
import urllib.error
from pathlib import Path

import pytest
import torchaudio.datasets.speechcommands as torchaudio_speechcommands

from kws.commands.train import main as train_main
from kws.data.datamodule import KWSDataModule
from kws.data.speech_commands import URL
from tests.conftest import tone_clip, write_layout


@pytest.fixture
def archive(tmp_path) -> bytes:
    """A small archive laid out like speech_commands_v0.02.tar.gz: word folders and split lists at its top."""
    source = write_layout(
        tmp_path / "src", {"yes": [tone_clip(500, 6000, 4000)] * 3}, {"spk00001"}, {"spk00002"}
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in (source / "SpeechCommands" / "speech_commands_v0.02").iterdir():
            tar.add(item, arcname=item.name)
    return buffer.getvalue()


def serve(monkeypatch, payload: bytes | Exception) -> list[str]:
    """Make torchaudio's download write `payload` (or raise it); returns the URLs asked for."""
    requested = []

    def fake_download(url, path, hash_prefix=None):
        requested.append(url)
        if isinstance(payload, Exception):
            raise payload
        Path(path).write_bytes(payload)

    monkeypatch.setattr(torchaudio_speechcommands, "download_url_to_file", fake_download)
    return requested


def downloaded_module(root: Path, tmp_path: Path) -> KWSDataModule:
    dm = KWSDataModule(str(root), download=True, cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_download_fetches_and_unpacks_the_official_archive(archive, tmp_path, monkeypatch):
    requested = serve(monkeypatch, archive)
    root = tmp_path / "speech_commands"
    dm = downloaded_module(root, tmp_path)
    assert requested == [URL]
    assert dm.labels == ["yes"]
    assert len(dm.split("training")) == 1 and len(dm.split("validation")) == 1
    assert sorted(p.name for p in root.iterdir()) == ["SpeechCommands"]  # no archive or staging left
    dm.prepare_data()  # already there: no second download
    assert len(requested) == 1


NO_NETWORK = urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))


@pytest.mark.parametrize(
    ("failure", "cause"), [("no network", "Name or service not known"), ("cut short", "cut short or damaged")]
)
def test_a_failed_download_is_one_line_and_leaves_nothing_in_the_way(
    failure, cause, archive, tmp_path, monkeypatch, capsys
):
    serve(monkeypatch, NO_NETWORK if failure == "no network" else archive[: len(archive) // 2])
    root = tmp_path / "speech_commands"
    overrides = [f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path}"]
    monkeypatch.setattr(sys, "argv", ["kws-train", "data=speech_commands", "data.download=true", *overrides])
    with pytest.raises(SystemExit) as exit_info:
        train_main()
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"kws: error: cannot download Speech Commands from {URL}: "), line
    assert cause in line and f"-C {root}/SpeechCommands/speech_commands_v0.02`" in line, line
    assert list(root.iterdir()) == []
    serve(monkeypatch, archive)  # the network is back: the next run just works
    assert downloaded_module(root, tmp_path).labels == ["yes"]
