"""The default CNN, unchanged but for data.root and the epochs, reaches the accuracy the README claims on
real Speech Commands recordings (seeded, so the figure is stable on a machine; the bar leaves room for
other CPUs' rounding)."""

import random
import shutil

import pytest

from kws.commands.train import train
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config
from tests.conftest import compose_config, copy_clips


@pytest.mark.slow
def test_default_cnn_reaches_90_percent_on_real_test_speakers(real8_root, tmp_path):
    overrides = [f"data.root={real8_root}", "trainer.max_epochs=20", "trainer.enable_progress_bar=false"]
    metrics, objects = train(compose_config("train", tmp_path, overrides))
    assert objects["datamodule"].labels == ["down", "go", "left", "no", "right", "stop", "up", "yes"]
    assert metrics["test/acc"] >= 0.90, metrics  # chance is 0.125 for 8 words; README: 94 % over 3 seeds


def _with_few_training_clips(real8_root, target, share):
    """A copy of the real root whose training split keeps a seeded `share` of its clips (validation, test
    and background noise as they are): a user with a few recordings of each word."""
    source, copy = (root / "SpeechCommands" / "speech_commands_v0.02" for root in (real8_root, target))
    copy.mkdir(parents=True)
    held_out = []
    for listing in ("validation_list.txt", "testing_list.txt"):
        shutil.copy2(source / listing, copy / listing)
        held_out += (source / listing).read_text().split()
    clips = {path.relative_to(source).as_posix() for path in source.glob("*/*.wav")}
    training = sorted(c for c in clips - set(held_out) if not c.startswith("_background_noise_/"))
    kept = random.Random(0).sample(training, round(share * len(training)))
    copy_clips(source, copy, held_out + kept)
    shutil.copytree(source / "_background_noise_", copy / "_background_noise_")
    return target, len(kept)


@pytest.mark.slow
def test_synthetic_clips_added_to_few_real_ones_help(real8_root, tmp_path):
    """kws-synth's 8 words, half of the speakers eSpeak, half Piper's neural voice, spoken in simulated rooms
    through simulated microphones over the real root's background noise, added to a tenth of the real
    training clips (seeded, a small budget of epochs): the real test speakers are recognised better than
    with those real clips alone."""
    few_real, kept = _with_few_training_clips(real8_root, tmp_path / "few_real", share=0.1)
    noise = real8_root / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_"
    synth = tmp_path / "synth8"
    words = ["yes", "no", "up", "down", "left", "right", "go", "stop"]
    acoustics = {"vocal_tract": [0.85, 1.2], "reverb_prob": 0.8, "mic_prob": 0.8, "noise_dir": str(noise)}
    build_dataset(synth, default_config(words=words, speakers=120, piper_share=0.5, **acoustics))
    budget = [
        f"data.root={few_real}",
        "trainer.max_epochs=8",
        "trainer.enable_progress_bar=false",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]
    real_only, _ = train(compose_config("train", tmp_path / "real", budget))
    mixed = [*budget, f"data.extra_roots=[{synth}]"]
    with_synth, _ = train(compose_config("train", tmp_path / "mixed", mixed))
    print(f"{kept} real clips: {real_only['test/acc']:.4f}, + synthetic {with_synth['test/acc']:.4f}")
    # With all 2,809 real clips the gain is within seed noise (README: +0.8 points at 20 epochs, -0.6 at
    # 40), so a single seeded run could not show it on every CPU; with a tenth of them it is large.
    assert with_synth["test/acc"] > real_only["test/acc"] + 0.02, (real_only, with_synth)
