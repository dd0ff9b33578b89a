"""The DET curve of kws-detect-eval: false-reject rate against false accepts per hour, one line per
smoothing, as det.png and as a TensorBoard image."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kws import atomic  # noqa: E402


def write_det_curve(points: list[dict], out: Path, title: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for smooth in sorted({p["smooth"] for p in points}):
        line = sorted((p["fa_per_hour"], p["frr"]) for p in points if p["smooth"] == smooth)
        axes.plot(
            [max(fa, 1e-2) for fa, _ in line], [frr for _, frr in line], marker=".", label=f"smooth {smooth}"
        )
    axes.set_xscale("log")
    axes.set_xlabel("false accepts per hour (0 drawn at 0.01)")
    axes.set_ylabel("false-reject rate")
    axes.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    axes.set_title(title, fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    picture = out / "det.png"
    atomic.save_figure(figure, picture, dpi=110, bbox_inches="tight")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(out / "tensorboard")) as writer:
        writer.add_figure("detection/det_curve", figure)
    plt.close(figure)
    return picture
