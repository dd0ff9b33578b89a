"""The default CNN, unchanged but for data.root and the epochs, reaches the accuracy the README claims on
real Speech Commands recordings (seeded, so the figure is stable on a machine; the bar leaves room for
other CPUs' rounding)."""

import pytest

from kws.synth.dataset import build_dataset, default_config
from kws.train import train
from tests.conftest import compose_config


@pytest.mark.slow
def test_default_cnn_reaches_90_percent_on_real_test_speakers(real8_root, tmp_path):
    overrides = [f"data.root={real8_root}", "trainer.max_epochs=20", "trainer.enable_progress_bar=false"]
    metrics, objects = train(compose_config("train", tmp_path, overrides))
    assert objects["datamodule"].labels == ["down", "go", "left", "no", "right", "stop", "up", "yes"]
    assert metrics["test/acc"] >= 0.90, metrics  # chance is 0.125 for 8 words; README: 94 % over 3 seeds


@pytest.mark.slow
def test_synthetic_clips_added_to_few_real_ones_do_not_hurt(real8_root, tmp_path):
    """kws-synth's 8 words, half of the speakers eSpeak, half Piper's neural voice, spoken in simulated rooms
    through simulated microphones over the real root's background noise, added to the real training clips
    (seeded, a small budget of epochs): the real test speakers are recognised at least as well as with the
    real clips alone."""
    noise = real8_root / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_"
    synth = tmp_path / "synth8"
    words = ["yes", "no", "up", "down", "left", "right", "go", "stop"]
    acoustics = {"vocal_tract": [0.85, 1.2], "reverb_prob": 0.8, "mic_prob": 0.8, "noise_dir": str(noise)}
    build_dataset(synth, default_config(words=words, speakers=120, piper_share=0.5, **acoustics))
    budget = [
        f"data.root={real8_root}",
        "trainer.max_epochs=6",
        "trainer.enable_progress_bar=false",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]
    real_only, _ = train(compose_config("train", tmp_path / "real", budget))
    mixed = [*budget, f"data.extra_roots=[{synth}]"]
    with_synth, _ = train(compose_config("train", tmp_path / "mixed", mixed))
    print(f"real only {real_only['test/acc']:.4f}, real + synthetic {with_synth['test/acc']:.4f}")
    # Seeded, so the same on one machine (here 85.52 % -> 86.08 %); half a point (6 of 1,257 clips) is left
    # for another CPU's rounding, as the 90 % bar above leaves room below the README's figure.
    assert with_synth["test/acc"] >= real_only["test/acc"] - 0.005, (real_only, with_synth)
