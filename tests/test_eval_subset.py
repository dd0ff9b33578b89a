"""kws-eval on a root that holds only some of the model's words: a real user's first check (a 35-word model
on real clips of 8 of them). Top-1 stays over all the model's labels; the root's missing ones are named."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kws.commands.evaluate import evaluate
from kws.commands.train import train
from kws.ship.exporter import export
from tests.conftest import REPO, compose_config, copy_clips, tone_clip, write_layout

WORDS = {"yes": 400, "no": 900, "up": 1500, "down": 2500, "left": 3200}
FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.batch_size=16"]
LISTS = ("validation_list.txt", "testing_list.txt")


@pytest.fixture(scope="module")
def full_root(tmp_path_factory):
    """Five tone words, 10 speakers, with background noise (for `_silence_`)."""
    clips = {word: [tone_clip(freq, 5000 + 200 * i, 3000) for i in range(10)] for word, freq in WORDS.items()}
    root = write_layout(tmp_path_factory.mktemp("full"), clips, {"spk00008"}, {"spk00009"})
    noise_dir = root / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_"
    noise_dir.mkdir()
    noise = np.random.default_rng(0).standard_normal(16000 * 4) * 2000
    sf.write(noise_dir / "white.wav", noise.astype(np.int16), 16000)
    return root


def subset_root(full_root, target, words):
    """`full_root` with only `words`' folders (no noise), its split lists cut to the clips it keeps."""
    source = full_root / "SpeechCommands" / "speech_commands_v0.02"
    folder = target / "SpeechCommands" / "speech_commands_v0.02"
    kept = sorted(p.relative_to(source).as_posix() for word in words for p in (source / word).glob("*.wav"))
    copy_clips(source, folder, kept)
    for name in LISTS:
        lines = [line for line in (source / name).read_text().split() if line.split("/")[0] in words]
        (folder / name).write_text("".join(line + "\n" for line in lines))
    return target


def trained(root, tmp_path_factory, *overrides):
    run = tmp_path_factory.mktemp("run")
    cfg = compose_config("train", run, [f"data.root={root}", "trainer.max_epochs=1", *FAST, *overrides])
    train(cfg)
    return run / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def four_word_model(full_root, tmp_path_factory):
    return trained(full_root, tmp_path_factory, "data.words=[yes,no,up,down]")


@pytest.fixture(scope="module")
def detection_model(full_root, tmp_path_factory):
    task = ["data.words=[yes,no,up]", "data.unknown_fraction=0.5", "data.silence_fraction=0.5"]
    return trained(full_root, tmp_path_factory, *task)


def scored(checkpoint, root, tmp_path, *overrides):
    cfg = compose_config(
        "eval", tmp_path, [f"ckpt_path={checkpoint}", f"data.root={root}", "accelerator=cpu", *overrides]
    )
    return evaluate(cfg)


def test_a_subset_root_scores_its_words_over_all_labels_and_names_the_rest(
    four_word_model, full_root, tmp_path, capsys
):
    root = subset_root(full_root, tmp_path / "subset", ["yes", "no", "left"])  # left: not the model's
    result = scored(four_word_model, root, tmp_path / "eval")
    assert set(result["per_label"]) == {"yes", "no"}
    assert result["absent_labels"] == ["up", "down"]
    report = json.loads((tmp_path / "eval" / "testing_report.json").read_text())
    assert report["labels"] == ["yes", "no", "up", "down"]  # the report file: every label, as before
    confusion = np.array(report["confusion"])
    assert result["into_absent_labels"] == confusion[:2, 2:].sum()
    assert confusion[2:].sum() == 0 and confusion.sum() == 2  # one test speaker, two present words
    assert result["test/acc"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["absent_labels"] == ["up", "down"]
    out = capsys.readouterr().out
    assert "| yes |" in out and "| up |" not in out  # the per-class table: the labels with clips
    (skipped,) = [line for line in out.splitlines() if "skipped" in line]
    assert skipped.endswith("skipped 2 label(s) without clips in the testing split: up, down")


def test_split_all_scores_every_clip_of_a_root_the_model_never_saw(four_word_model, full_root, tmp_path):
    root = subset_root(full_root, tmp_path / "subset", ["no"])
    result = scored(four_word_model, root, tmp_path / "eval", "split=all")
    assert list(result["per_label"]) == ["no"] and "all/acc" in result
    report = json.loads((tmp_path / "eval" / "all_report.json").read_text())
    assert np.array(report["confusion"]).sum() == 10  # every speaker's clip


def test_a_root_with_none_of_the_words_is_one_line_and_exit_2(four_word_model, full_root, tmp_path):
    root = subset_root(full_root, tmp_path / "other", ["left"])
    result = subprocess.run(
        [sys.executable, "-m", "kws.commands.evaluate", f"ckpt_path={four_word_model}", f"data.root={root}"]
        + [f"hydra.run.dir={tmp_path / 'eval'}", "accelerator=cpu"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert (
        line.startswith("kws: error: data.root: the testing split of ") and "Traceback" not in result.stdout
    )
    assert line.endswith("has no clips of the model's words (yes, no, up, down)")


def test_detection_labels_score_unknown_and_skip_silence_without_noise(detection_model, full_root, tmp_path):
    # down and left are other words: `_unknown_`; no _background_noise_ here, so no `_silence_` clips
    root = subset_root(full_root, tmp_path / "subset", ["yes", "down", "left"])
    result = scored(detection_model, root, tmp_path / "eval", "split=all")
    assert set(result["per_label"]) == {"_unknown_", "yes"}
    assert result["absent_labels"] == ["_silence_", "no", "up"]
    report = json.loads((tmp_path / "eval" / "all_report.json").read_text())
    assert report["labels"] == ["_silence_", "_unknown_", "yes", "no", "up"]
    assert np.array(report["confusion"])[2].sum() == 10  # every clip of yes


def test_word_accuracy_script_gives_kws_evals_figures_for_a_checkpoint_and_its_export(
    four_word_model, full_root, tmp_path
):
    root = subset_root(full_root, tmp_path / "subset", ["yes", "up", "left"])
    export(compose_config("export", tmp_path / "export", [f"ckpt_path={four_word_model}"]))
    summaries = []
    for model in (four_word_model, tmp_path / "export"):
        out = tmp_path / f"{len(summaries)}.json"
        command = [sys.executable, str(REPO / "scripts" / "word_accuracy.py"), str(model), str(root)]
        command += ["--split", "all", "--out", str(out), "--json-out", str(tmp_path / "table.json")]
        subprocess.run(command, capture_output=True, text=True, check=True, cwd=tmp_path, timeout=120)
        summaries.append(json.loads(out.read_text()))
    evaluated = scored(four_word_model, root, tmp_path / "eval", "split=all")
    for summary in summaries:
        assert summary["accuracy"] == pytest.approx(evaluated["all/acc"], abs=1e-4)
        assert summary["per_word"] == evaluated["per_label"] and summary["clips"] == 20
        assert summary["absent_labels"] == ["no", "down"] and summary["labels"] == 4
    (row,) = json.loads((tmp_path / "table.json").read_text())["rows"]
    assert set(row) == {"model", "clips", "yes", "up", "all"}
