"""kws-detect: keyword detection over a long recording, with a real exported model and with fake ones."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kws.data.preparation import Decoding, Preparation
from kws.ship.detect import detect, main
from kws.ship.detect_eval import RATE, long_recording, precision_recall
from kws.ship.detect_eval import main as detect_eval_main
from kws.ship.export import export
from kws.ship.runtime import Spotter, load_spotter
from kws.train import train
from tests.conftest import compose_config
from tests.test_pipeline import FAST

# "up" and "yes": on 4 words × 16 training speakers a few epochs leave "down" and "no" confused (test
# posteriors ~0.5), and a detector's threshold is only meaningful over words the model is sure of.
WORDS = ["up", "yes"]


@pytest.fixture(scope="module")
def exported_model(tiny_synth_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("detect_run")
    overrides = [
        f"data.root={tiny_synth_root}",
        f"data.words=[{','.join(WORDS)}]",
        "trainer.max_epochs=25",
        "optimizer.lr=0.01",
        "augment=none",
        *FAST,
    ]
    train(compose_config("train", run_dir, overrides))
    best = run_dir / "checkpoints" / "best.ckpt"
    out_dir = run_dir / "export"
    export(compose_config("export", run_dir, [f"ckpt_path={best}", f"out_dir={out_dir}"]))
    return out_dir


def test_exported_model_finds_the_keywords_in_a_long_recording(
    exported_model, tiny_synth_root, tmp_path, capsys
):
    assert json.loads((exported_model / "model.json").read_text())["preparation"]["labels"] == WORDS
    audio, truth = long_recording(tiny_synth_root, WORDS, np.random.default_rng(0))
    wav = tmp_path / "long.wav"
    sf.write(wav, audio, RATE, subtype="PCM_16")

    main([str(exported_model), str(wav), "--json"])  # default settings
    detections = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    precision, recall = precision_recall(detections, truth)
    print(
        f"precision {precision:.3f} recall {recall:.3f} ({len(detections)} detections, {len(truth)} keywords)"
    )
    assert precision >= 0.9 and recall >= 0.9, (detections, truth)


def test_detect_eval_scores_a_recording_made_from_a_split(exported_model, tiny_synth_root, capsys):
    detect_eval_main([str(exported_model), str(tiny_synth_root), "--keywords", "12", "--split", "validation"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    rng = np.random.default_rng(0)  # the command's default --seed
    audio, truth = long_recording(tiny_synth_root, WORDS, rng, keywords=12, split="validation")
    found = [vars(d) for d in detect(audio, load_spotter(exported_model))]
    precision, recall = precision_recall(found, truth)
    assert summary == {"keywords": 12, "detections": len(found), "precision": precision, "recall": recall}
    assert recall >= 0.5, summary


def test_detect_eval_on_a_root_without_split_lists_is_one_error_line(exported_model, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        detect_eval_main([str(exported_model), str(tmp_path)])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1
    assert error.startswith("kws: error: ") and "testing_list.txt: not found" in error


def test_unreadable_audio_is_one_error_line_with_exit_code_2(exported_model, tmp_path):
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a recording\n")
    result = subprocess.run(
        [sys.executable, "-m", "kws.ship.detect", str(exported_model), str(not_audio)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"kws: error: {not_audio}: cannot read audio")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def fake_spotter(labels: list[str], logits: list[float], rate: int = 1000) -> Spotter:
    """A spotter that gives every window the same logits, with 0.2 s clips at `rate` Hz."""
    row = np.asarray(logits, np.float32)
    preparation = Preparation(tuple(labels), rate // 5, Decoding(sample_rate=rate))
    return Spotter(preparation, lambda batch: np.tile(row, (len(batch), 1)))


def loud(seconds: float, rate: int = 1000) -> np.ndarray:
    return (0.5 * np.sin(np.arange(int(seconds * rate)) * 0.3)).astype(np.float32)


def test_refractory_period_allows_one_detection_per_period():
    spotter = fake_spotter(["no", "yes"], [0.0, 8.0])
    audio = loud(3.0)

    one_per_second = detect(audio, spotter, hop_s=0.1, smooth=3, threshold=0.8, refractory_s=1.0)
    times = [d.time for d in one_per_second]
    assert [d.label for d in one_per_second] == ["yes"] * 3
    assert np.diff(times).min() >= 1.0 - 1e-9

    assert len(detect(audio, spotter, hop_s=0.1, smooth=3, threshold=0.8, refractory_s=10.0)) == 1


def test_silence_and_unknown_are_never_reported():
    spotter = fake_spotter(["_silence_", "_unknown_", "yes"], [6.0, 6.0, 0.0])
    assert detect(loud(3.0), spotter, threshold=0.3) == []  # each non-keyword holds ~0.5


def test_quiet_windows_are_gated_to_silence():
    spotter = fake_spotter(
        ["no", "yes"], [0.0, 8.0]
    )  # names "yes" for anything, as a model without _silence_
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.5 * 10 ** (-50 / 20), 6000).astype(np.float32)
    audio[3000:3500] += loud(0.5)

    detections = detect(audio, spotter, hop_s=0.05, smooth=1, threshold=0.8, refractory_s=1.0)
    assert [d.label for d in detections] == ["yes"]
    assert 2.8 <= detections[0].time <= 3.5


def test_digital_silence_gives_no_detections():
    spotter = fake_spotter(["no", "yes"], [0.0, 8.0])
    assert detect(np.zeros(5000, np.float32), spotter) == []
