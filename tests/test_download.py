"""data.download=true goes through torchaudio's SPEECHCOMMANDS download; here the network is faked."""

import tarfile

import torchaudio.datasets.speechcommands as torchaudio_speechcommands

from kws.data.datamodule import KWSDataModule
from tests.conftest import tone_clip, write_layout


def test_download_fetches_and_unpacks_the_official_archive(tmp_path, monkeypatch):
    # An archive laid out like speech_commands_v0.02.tar.gz: word folders and split lists at its top.
    source = write_layout(
        tmp_path / "src", {"yes": [tone_clip(500, 6000, 4000)] * 3}, {"spk00001"}, {"spk00002"}
    )
    archive_root = source / "SpeechCommands" / "speech_commands_v0.02"
    requested = []

    def fake_download(url, path, hash_prefix=None):
        requested.append(url)
        with tarfile.open(path, "w:gz") as tar:
            for item in archive_root.iterdir():
                tar.add(item, arcname=item.name)

    monkeypatch.setattr(torchaudio_speechcommands, "download_url_to_file", fake_download)
    root = tmp_path / "speech_commands"
    dm = KWSDataModule(str(root), download=True, cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    dm.setup("fit")
    assert requested == ["http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"]
    assert dm.labels == ["yes"]
    assert len(dm.split("training")) == 1 and len(dm.split("validation")) == 1
    dm.prepare_data()  # already there: no second download
    assert len(requested) == 1
