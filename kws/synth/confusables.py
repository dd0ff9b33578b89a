"""Near misses: words that sound close to the keywords, for kws-synth's `confusables` option.

Spoken as extra word folders, they land in `_unknown_` when a model trains on the keywords, so it learns
that "lift" is not "left" instead of firing on anything that is roughly right. Closeness is the edit
distance between eSpeak's phonemes (kws.synth.espeak.phonemes) of the two words, stress ignored.
"""

import functools
from collections.abc import Sequence

from omegaconf import OmegaConf

from kws.config_dir import CONFIG_DIR
from kws.errors import KWSError
from kws.synth import espeak

CANDIDATES_FILE = CONFIG_DIR / "vocabulary" / "near_miss_candidates.yaml"
LANGUAGE = "en-us"  # whose pronunciation decides what sounds close
_STRESS = "ˈˌ"


@functools.cache
def candidates() -> tuple[str, ...]:
    """The shipped candidate vocabulary (configs/vocabulary/near_miss_candidates.yaml)."""
    return tuple(OmegaConf.load(CANDIDATES_FILE).candidates)


def phoneme_symbols(words: Sequence[str], language: str = LANGUAGE) -> dict[str, tuple[str, ...]]:
    """Each word's phonemes, one symbol each ("ɛ", "aɪ", "t"), without stress marks or word breaks."""
    spoken = espeak.phonemes_of([espeak.spoken_text(word) for word in words], language)
    unstressed = [s.translate({ord(mark): None for mark in _STRESS}).replace(" ", "_") for s in spoken]
    return {word: tuple(filter(None, s.split("_"))) for word, s in zip(words, unstressed, strict=True)}


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance: insertions, deletions and substitutions of one symbol each cost 1."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def near_misses(
    keywords: Sequence[str], vocabulary: Sequence[str], per_keyword: int, language: str = LANGUAGE
) -> dict[str, tuple[str, ...]]:
    """For each keyword the `per_keyword` words of `vocabulary` that sound closest to it, closest first.

    Never a keyword, never a homophone of any keyword (distance 0: "know" would be a "no" labelled
    unknown), never one word for two keywords. The closest (keyword, word) pairs are taken first over all
    keywords, ties by keyword order then alphabetically, so no keyword's order in the list gets it the
    better words and the answer is the same for the same inputs.
    """
    sounds = phoneme_symbols([*keywords, *vocabulary], language)
    pairs = [
        (edit_distance(sounds[keyword], sounds[word]), rank, word)
        for rank, keyword in enumerate(keywords)
        for word in sorted(set(vocabulary) - set(keywords))
    ]
    homophones = {word for distance, _, word in pairs if distance == 0}
    chosen: dict[str, list[str]] = {keyword: [] for keyword in keywords}
    taken: set[str] = set()
    for _, rank, word in sorted(pairs):
        picks = chosen[keywords[rank]]
        if word not in homophones and word not in taken and len(picks) < per_keyword:
            picks.append(word)
            taken.add(word)
    short = [keyword for keyword, picks in chosen.items() if len(picks) < per_keyword]
    if short:
        raise KWSError(
            f"confusables={per_keyword} needs {per_keyword * len(keywords)} distinct near misses for "
            f"{len(keywords)} words, but the {len(vocabulary)} candidates run out for {', '.join(short)}"
        )
    return {keyword: tuple(picks) for keyword, picks in chosen.items()}
