"""Tasks as data configs: keyword lists, _unknown_ and _silence_ as in Warden 2018, class balancing."""

import numpy as np
import pytest
import soundfile as sf
import torch

from kws.commands.train import build_datamodule
from kws.errors import DataError
from tests.conftest import compose_config, tone_clip, write_layout
from tests.conftest import prepared_module as _prepared

WORDS = {"yes": 400, "no": 900, "up": 1500, "down": 2500, "left": 3000}


@pytest.fixture
def root(tmp_path):
    # Speakers spk00000-19 say every word; "yes" also has spk00020-39, all in training (imbalanced).
    clips = {word: [tone_clip(freq, 6000, 4000) for _ in range(20)] for word, freq in WORDS.items()}
    clips["yes"] += [tone_clip(400, 7000, 3000) for _ in range(20)]
    root = write_layout(tmp_path / "root", clips, {"spk00016", "spk00017"}, {"spk00018", "spk00019"})
    noise_dir = root / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_"
    noise_dir.mkdir()
    rng = np.random.default_rng(0)
    sf.write(noise_dir / "white.wav", (rng.standard_normal(16000 * 5) * 3000).astype(np.int16), 16000)
    return root


def test_unknown_and_silence_classes(root):
    dm = _prepared(root, words=["yes", "no"], unknown_fraction=0.25, silence_fraction=0.25)
    assert dm.labels == ["_silence_", "_unknown_", "yes", "no"]
    counts = dm.class_counts()  # training: 36 yes + 16 no keyword clips → 13 unknown, 13 silence
    assert counts.tolist() == [13, 13, 36, 16]
    silence = dm.split("training").clips[dm.split("training").labels == 0]
    assert silence.shape[1] == dm.clip_samples and np.abs(silence).max() > 0
    val_counts = np.bincount(dm.split("validation").labels, minlength=4)
    assert val_counts.tolist() == [1, 1, 2, 2]


def test_task_draws_are_deterministic_and_seeded(root):
    first = _prepared(root, words=["yes"], unknown_fraction=0.5, silence_fraction=0.5).split("training")
    again = _prepared(root, words=["yes"], unknown_fraction=0.5, silence_fraction=0.5).split("training")
    np.testing.assert_array_equal(first.clips, again.clips)
    other = _prepared(root, words=["yes"], unknown_fraction=0.5, silence_fraction=0.5, task_seed=1)
    assert not np.array_equal(first.clips, other.split("training").clips)


def test_silence_needs_background_noise(root):
    for path in (root / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="data.silence_fraction > 0 needs noise files"):
        _prepared(root, words=["yes"], silence_fraction=0.1)


def test_balanced_sampler_evens_out_classes(root):
    dm = _prepared(root, words=["yes", "no"], balance="sampler", batch_size=8)
    torch.manual_seed(0)
    labels = torch.cat([labels for _ in range(20) for _, labels in dm.train_dataloader()])
    share_of_yes = (labels == 0).float().mean().item()
    assert dm.class_counts().tolist() == [36, 16] and 0.4 < share_of_yes < 0.6


def test_loss_weights_are_inverse_frequency(root):
    dm = _prepared(root, words=["yes", "no"], balance="loss_weights")
    weights = dm.class_weights()
    assert weights == pytest.approx([52 / (2 * 36), 52 / (2 * 16)])
    assert _prepared(root, words=["yes", "no"]).class_weights() is None


@pytest.mark.parametrize(
    ("data", "labels"),
    [
        ("speech_commands", 35),
        ("speech_commands_12", 12),
    ],
)
def test_data_configs_define_the_tasks(tmp_path, data, labels):
    cfg = compose_config("train", tmp_path, [f"data={data}"])
    cfg.data.root = str(tmp_path)
    dm = build_datamodule(cfg.data)
    assert len(dm.labels) == labels
    if data == "speech_commands_12":
        assert dm.labels[:2] == ["_silence_", "_unknown_"] and "yes" in dm.labels and "off" in dm.labels


def test_detection_takes_the_roots_word_folders_unless_words_are_named(root, tmp_path):
    overrides = ["data=detection", f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}"]
    cfg = compose_config("train", tmp_path, [*overrides, "data.synth_unknowns=0"])
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    assert dm.labels == ["_silence_", "_unknown_", "down", "left", "no", "up", "yes"]


def test_words_the_root_lacks_are_one_error_naming_the_key_and_the_roots_words(root, tmp_path):
    cfg = compose_config(
        "train", tmp_path, ["data=speech_commands", f"data.root={root}", f"data.cache_dir={tmp_path}"]
    )
    with pytest.raises(DataError, match=r"'data\.words=\[down,left,no,up,yes\]', or data\.words=null"):
        build_datamodule(cfg.data).prepare_data()
