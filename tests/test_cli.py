"""One vocabulary: a data root, output folder, checkpoint or cache folder spelled as one command spells it
works in all."""

import pytest

from kws.cli import KEYS, canonical_overrides
from kws.evaluation.run_report import main as report_main
from kws.ship.detect import main as detect_main
from kws.ship.predict import main as predict_main


@pytest.mark.parametrize(
    ("command", "typed", "meant"),
    [
        ("eval", "data_root=/d", "data.root=/d"),
        ("eval", "+data_root=/d", "data.root=/d"),
        ("eval", "out_dir=/o", "hydra.run.dir=/o"),
        ("export", "hydra.run.dir=/o", "out_dir=/o"),
        ("export", "data_root=/d", "data.root=/d"),
        ("train", "root=/d", "data.root=/d"),
        ("train", "ckpt=last", "ckpt_path=last"),
        ("synth", "data.root=/d", "root=/d"),
        ("eval", "data.cache_dir=/c", "cache_dir=/c"),
        ("export", "data.cache_dir=/c", "cache_dir=/c"),
        ("train", "cache_dir=/c", "data.cache_dir=/c"),
    ],
)
def test_other_spellings_become_the_commands_own_key(command, typed, meant):
    assert canonical_overrides(command, [typed]) == [meant]


def test_own_keys_flags_and_unrelated_overrides_are_left_alone():
    args = ["-m", "--cfg", "job", "data.root=/d", "model=rnn", "paths.output_dir=/x", "data.root_extra=1"]
    for command in KEYS:
        kept = canonical_overrides(command, args)
        assert kept[:3] == ["-m", "--cfg", "job"] and kept[4:] == args[4:]


@pytest.mark.parametrize("main", [predict_main, detect_main, report_main])
def test_argparse_commands_report_bad_arguments_in_the_same_one_line_style(main, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-option"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("kws: error: kws-") and line.endswith("--help)"), line
