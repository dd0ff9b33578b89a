"""kws-synth's near misses (confusables): eSpeak's phonemes are deterministic, the picks sound close but are
never a keyword or a homophone of one, and a set with them is reproducible, laid out right and off by default
without touching older sets."""

import dataclasses
import random
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from kws.config_dir import CONFIG_DIR
from kws.errors import DataError, KWSError
from kws.synth import confusables, espeak
from kws.synth.dataset import build_dataset
from kws.synth.marker import MARKER
from kws.synth.parameters import default_config
from tests.conftest import tree_digest

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "go", "stop")
TINY = default_config(words=("yes", "left"), speakers=4, background_seconds=1.0, confusables=1)


def test_phonemes_are_espeaks_ipa_and_the_same_whatever_came_before() -> None:
    assert espeak.phonemes("left") == "l_ˈɛ_f_t"
    assert espeak.phonemes("no") == espeak.phonemes("know") == "n_ˈoʊ"
    assert espeak.phonemes("no", "en-gb-x-rp") == "n_ˈəʊ"  # the language's own pronunciation
    words = list(confusables.candidates()[:40])
    one_by_one = [espeak.phonemes(word) for word in words]
    espeak.synthesize("stop", espeak.Voice("en-gb-scotland", "f3"))
    shuffled = random.Random(0).sample(words, len(words))
    assert dict(zip(shuffled, espeak.phonemes_of(shuffled), strict=True)) == dict(
        zip(words, one_by_one, strict=True)
    )
    with pytest.raises(KWSError, match="no language voice"):
        espeak.phonemes("left", "xx-nowhere")


def test_edit_distance_counts_symbols_not_letters() -> None:
    assert confusables.edit_distance("kitten", "sitting") == 3
    assert confusables.edit_distance(("l", "ɛ", "f", "t"), ("l", "ɪ", "f", "t")) == 1
    assert confusables.edit_distance((), ("aɪ",)) == 1


def test_the_candidates_are_everyday_words_other_than_the_speech_commands_ones() -> None:
    words = confusables.candidates()
    speech_commands = OmegaConf.load(CONFIG_DIR / "vocabulary" / "speech_commands_v2.yaml").words
    assert len(words) > 400 and len(set(words)) == len(words)
    assert all(re.fullmatch(r"[a-z]+", word) for word in words)
    assert not set(words) & set(speech_commands)  # real clips of those words measure false accepts


def test_near_misses_sound_close_and_are_never_keywords_homophones_or_shared() -> None:
    picks = confusables.near_misses(KEYWORDS, confusables.candidates(), 2)
    assert picks == {
        "yes": ("chess", "guess"), "no": ("knee", "low"), "up": ("cup", "pup"), "down": ("done", "town"),
        "left": ("let", "lift"), "right": ("bite", "fight"), "go": ("ago", "goal"), "stop": ("step", "cop"),
    }  # fmt: skip
    chosen = [word for words in picks.values() for word in words]
    assert len(set(chosen)) == len(chosen) and not set(chosen) & set(KEYWORDS)
    assert "know" in confusables.candidates() and "write" in confusables.candidates()
    assert "know" not in chosen and "write" not in chosen  # homophones of "no" and "right"
    vocabulary = ["yes", "no", "know", "noon", "nose", "yet", "less", "lift"]  # distances 3 0 0 2 1 3 3 4
    assert confusables.near_misses(["no"], vocabulary, 3) == {"no": ("nose", "noon", "less")}  # ties: a-z
    assert confusables.near_misses(["no"], vocabulary[::-1], 3) == {"no": ("nose", "noon", "less")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("near"), TINY, workers=2)


def test_a_set_with_near_misses_is_reproducible_and_logs_them(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="kws.synth"):
        again = build_dataset(tmp_path, TINY, workers=1)
    assert "near misses (confusables=1): yes -> chess; left -> let" in caplog.text
    assert tree_digest(again) == tree_digest(built)


def test_near_misses_are_word_folders_of_their_own_in_every_split(built: Path) -> None:
    folders = {p.name for p in built.iterdir() if p.is_dir()}
    assert folders == {"yes", "left", "chess", "let", "_background_noise_"}
    for word in ("yes", "left", "chess", "let"):
        assert len(list((built / word).glob("*_nohash_0.wav"))) == TINY.speakers
    for list_name in ("validation_list.txt", "testing_list.txt"):
        lines = (built / list_name).read_text().split()
        assert sorted(line.split("/")[0] for line in lines) == ["chess", "left", "let", "yes"]
    assert '"near_misses": {\n      "yes": [\n        "chess"' in (built / MARKER).read_text()


def test_off_leaves_older_sets_built_and_the_keywords_clips_as_they_were(built: Path, tmp_path: Path) -> None:
    plain = dataclasses.replace(TINY, confusables=0)
    without = build_dataset(tmp_path, plain)
    assert "confusables" not in (without / MARKER).read_text()  # as written before the option existed
    assert {p.name for p in without.iterdir() if p.is_dir()} == {"yes", "left", "_background_noise_"}
    for word in ("yes", "left"):
        assert tree_digest(without / word) == tree_digest(built / word)
    assert build_dataset(tmp_path, plain) == without
    with pytest.raises(DataError, match=re.escape("confusables: None -> 1")):
        build_dataset(tmp_path, TINY)


def test_bad_values_name_the_option(tmp_path: Path) -> None:
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(KWSError, match=r"confusables must be a whole number >= 0"):
            build_dataset(tmp_path, dataclasses.replace(TINY, confusables=bad))
    with pytest.raises(KWSError, match=r"confusables=300 needs 600 distinct near misses"):
        build_dataset(tmp_path, dataclasses.replace(TINY, confusables=300))
    assert not (tmp_path / "SpeechCommands").exists()
