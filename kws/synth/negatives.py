"""Non-keyword speech for kws-detect-eval's negative streams: near misses of the keywords and other
everyday words (configs/vocabulary/near_miss_candidates.yaml) in eSpeak voices, as 16 kHz float clips."""

import numpy as np

from kws.synth import clip_signal, confusables, espeak
from kws.synth.parameters import default_config

NEAR_MISSES_PER_KEYWORD = 4


def spoken_words(keywords: list[str], count: int, seed: int) -> list[np.ndarray]:
    """`count` clips: every keyword's closest words first, then others drawn at random, none a keyword."""
    if count <= 0:
        return []
    vocabulary = [word for word in confusables.candidates() if word not in keywords]
    per_keyword = min(NEAR_MISSES_PER_KEYWORD, max(1, len(vocabulary) // max(len(keywords), 1) - 1))
    close = confusables.near_misses(keywords, vocabulary, per_keyword)
    words = [word for picks in close.values() for word in picks]
    rng = np.random.default_rng([seed, 11])
    others = [word for word in vocabulary if word not in words]
    words += [others[i] for i in rng.permutation(len(others))]
    config = default_config()
    clips = []
    for number in range(count):
        word = words[number % len(words)]
        voice = espeak.Voice(
            config.languages[int(rng.integers(len(config.languages)))],
            config.variants[int(rng.integers(len(config.variants)))],
            int(rng.integers(*config.rate)),
            int(rng.integers(*config.pitch)),
        )
        speech = espeak.synthesize(espeak.spoken_text(word), voice, seed=int(rng.integers(2**31)))
        clip = clip_signal.render_clip(speech, rng, (-6.0, -1.0), (40.0, 50.0))
        clips.append(clip.astype(np.float32) / 32768)
    return clips
