"""The default CNN, unchanged but for data.root, learns real Speech Commands recordings."""

import pytest

from kws.train import train
from tests.conftest import compose_config


@pytest.mark.slow
def test_default_cnn_trains_on_real_clips_well_above_chance(real8_root, tmp_path):
    overrides = [f"data.root={real8_root}", "trainer.max_epochs=6", "trainer.enable_progress_bar=false"]
    metrics, objects = train(compose_config("train", tmp_path, overrides))
    assert objects["datamodule"].labels == ["down", "go", "left", "no", "right", "stop", "up", "yes"]
    assert metrics["test/acc"] >= 0.5, metrics  # chance is 0.125 for 8 words
