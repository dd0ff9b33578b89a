"""A checkpoint scored on a root that holds only some of its labels: per present label, overall, and how
many clips went to labels the root has no clips of (top-1 is over all the model's labels, as kws-predict's).
"""

import numpy as np


def present_label_scores(labels: list[str], confusion: np.ndarray) -> dict:
    """From a split's confusion matrix (rows: true label): the labels with clips and their accuracy, the
    overall accuracy, the labels without clips, and the clips predicted as one of those."""
    confusion = np.asarray(confusion)
    clips = confusion.sum(axis=1)
    present = np.flatnonzero(clips)
    absent = np.flatnonzero(clips == 0)
    return {
        "clips": int(clips.sum()),
        "accuracy": round(float(np.trace(confusion) / max(1, clips.sum())), 4),
        "per_label": {labels[i]: round(float(confusion[i, i] / clips[i]), 4) for i in present},
        "absent_labels": [labels[i] for i in absent],
        "into_absent_labels": int(confusion[np.ix_(present, absent)].sum()),
    }


def present_label_lines(scores: dict, split: str) -> str:
    """The console lines under the per-class table (whose recall is each present label's accuracy): the
    overall score, then what the root lacked."""
    lines = [f"{split}: accuracy {scores['accuracy']:.4f} over {scores['clips']} clips"]
    if scores["absent_labels"]:
        absent = scores["absent_labels"]
        lines.append(
            f"{scores['into_absent_labels']} of {scores['clips']} clips predicted as labels this root lacks; "
            f"skipped {len(absent)} label(s) without clips in the {split} split: {', '.join(absent)}"
        )
    return "\n".join(lines)
