"""Every `kws-…` command in the README and the docs composes: each override names a key that exists
(Hydra's compose, as `--cfg job` would, nothing trained) and each flag of the argparse commands exists
(flags only: prose often shows a flag without the arguments around it)."""

import re
import shlex

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep

from kws.commands.demo import _parser as demo_parser
from kws.commands.detect import _parser as detect_parser
from kws.commands.detect_eval import _parser as detect_eval_parser
from kws.commands.predict import _parser as predict_parser
from kws.commands.report import _parser as report_parser
from kws.commands.table import _parser as table_parser
from tests.conftest import REPO, compose_config

CONFIGS = REPO / "configs"
HYDRA_COMMANDS = {"kws-train": "train", "kws-eval": "eval", "kws-export": "export", "kws-synth": "synth"}
ARGPARSE_COMMANDS = {
    "kws-predict": predict_parser,
    "kws-detect": detect_parser,
    "kws-detect-eval": detect_eval_parser,
    "kws-report": report_parser,
    "kws-table": table_parser,
    "kws-demo": demo_parser,
}
COMMAND = re.compile(r"(?<![\w/.-])(kws-[a-z-]+)(?=\s|$)")
# A command line starts with the command, perhaps after `VAR=value;` or `for …; do` (not a tree listing).
STARTS = re.compile(r"^\s*(?:(?:[A-Z_]+=\S*|for .*?;\s*do)\s*;?\s*)*(?=kws-)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# What the docs write for "your value here": the test puts a value of the right kind in its place.
PLACEHOLDER = re.compile(r"<[^<>]*>|\$\{?\w+\}?")


def _pages() -> list:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _snippets(text: str) -> list[str]:
    """Shell lines of the fenced blocks (continuations joined, comments dropped) and inline code spans."""
    lines = []
    for block in FENCE.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [line.split(" #")[0] for line in joined.splitlines()]
    outside = FENCE.sub("", text)
    return lines + INLINE.findall(re.sub(r"\n", " ", outside))


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(page, command, arguments) for every documented kws command line that is not a bare name."""
    found = []
    for page in _pages():
        for snippet in _snippets(page.read_text()):
            start = STARTS.match(snippet)
            for match in COMMAND.finditer(snippet, start.end() if start else len(snippet)):
                rest = snippet[match.end() :].split(";")[0].split("&&")[0].split("|")[0]
                rest = PLACEHOLDER.sub("x", rest.replace("…", " ").replace("...", " "))
                try:
                    arguments = shlex.split(rest)
                except ValueError:
                    continue  # a span that shows part of a line (an unmatched quote)
                arguments = [a for a in arguments if not a.startswith("kws-")]
                cut = next((i for i, a in enumerate(arguments) if COMMAND.fullmatch(a)), len(arguments))
                found.append((page.relative_to(REPO).as_posix(), match[1], arguments[:cut]))
    return found


def _first_job(overrides: list[str]) -> list[str]:
    """A --multirun line's first job (every sweep at its first value), with a placeholder in a config
    group (`model=<name>`) given that group's first option."""
    job = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key, value = override.get_key_element(), override.value()
        if isinstance(value, IntervalSweep):
            value = value.start
        elif override.is_sweep_override():
            value = next(iter(override.sweep_string_iterator()))
        else:
            value = override.get_value_element_as_str()
        group = CONFIGS / key.lstrip("+~")
        if value == "x" and group.is_dir():
            value = sorted(group.glob("*.yaml"))[0].stem
        job.append(f"{key}={value}")
    return job


COMMANDS = documented_commands()
HYDRA = [(page, name, args) for page, name, args in COMMANDS if name in HYDRA_COMMANDS]
ARGPARSE = [(page, name, args) for page, name, args in COMMANDS if name in ARGPARSE_COMMANDS]


def test_the_docs_show_many_commands_of_every_kind():
    assert len(HYDRA) > 100 and {name for _, name, _ in COMMANDS} >= {*HYDRA_COMMANDS, *ARGPARSE_COMMANDS}


@pytest.mark.parametrize(("page", "name", "arguments"), HYDRA, ids=[f"{p}:{n}" for p, n, _ in HYDRA])
def test_each_hydra_command_in_the_docs_composes(page, name, arguments, tmp_path):
    overrides = [a for a in arguments if a not in ("--multirun", "-m") and "=" in a]
    flags = [a for a in arguments if a not in overrides and a not in ("--multirun", "-m", "x")]
    assert not flags, f"{page}: `{name} {shlex.join(arguments)}` has arguments Hydra does not take: {flags}"
    compose_config(HYDRA_COMMANDS[name], tmp_path, _first_job(overrides))


@pytest.mark.parametrize(("page", "name", "arguments"), ARGPARSE, ids=[f"{p}:{n}" for p, n, _ in ARGPARSE])
def test_each_argparse_command_in_the_docs_has_only_its_own_flags(page, name, arguments):
    """Prose names a flag alone (`kws-predict --json`), a synopsis brackets them: every flag must exist."""
    usage = ARGPARSE_COMMANDS[name]().format_help()
    flags = [a.strip("[]").split("=")[0] for a in arguments if a.strip("[]").startswith("--")]
    unknown = [flag for flag in flags if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", usage)]
    assert not unknown, f"{page}: `{name} {shlex.join(arguments)}`: {name} has no {unknown}"


def test_a_shortened_override_fails_and_a_continued_line_is_read_whole(tmp_path):
    with pytest.raises(Exception, match="speed_max"):
        test_each_hydra_command_in_the_docs_composes("x.md", "kws-train", ["speed_max=1.1"], tmp_path)
    detection = [args for page, name, args in HYDRA if page == "docs/results-detection.md"]
    assert detection[0][:3] == ["--multirun", "experiment=detection", "data.root=x"]
    assert "hydra.sweep.dir=outputs/seeds/detection" in detection[0]  # after the line's backslash
