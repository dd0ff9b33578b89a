"""The top-k keywords of audio files (kws-predict): each file prepared as in training, scored in one batch."""

import numpy as np

from kws.errors import DataError
from kws.ship.runtime import Spotter, prepare


def predict_files(
    spotter: Spotter, paths: list[str], top: int, skip_bad_files: bool = False
) -> tuple[list[dict], list[str]]:
    """The top-`top` labels of each file, and why each skipped file was skipped (`skip_bad_files`)."""
    prepared, skipped = [], []
    for path in paths:
        try:
            prepared.append((path, *prepare(path, spotter)))
        except DataError as err:
            if not skip_bad_files:
                raise DataError(f"{err} (pass --skip-bad-files to skip such files)") from None
            skipped.append(str(err))
    if not prepared:
        return [], skipped
    probabilities = spotter.probabilities(np.stack([clip for _, clip, _ in prepared]))
    results = []
    for (path, _, converted), probs in zip(prepared, probabilities, strict=True):
        order = np.argsort(probs)[::-1][:top]
        ranked = [[spotter.labels[i], round(float(probs[i]), 4)] for i in order]
        results.append(
            {"file": path, "label": ranked[0][0], "prob": ranked[0][1], "top": ranked, "notes": converted}
        )
    return results, skipped
