"""kws-export's entry point: kws.ship.exporter, then, with `detection.target_fa_per_hour`, kws-detect's
threshold and smoothing calibrated on the validation split as `kws-detect-eval --split validation
--calibrate` does (with kws-synth's eSpeak words among the negatives: the ship folder does not import
synth; this thin entry joins them)."""

import json
from pathlib import Path

from omegaconf import DictConfig

from kws.commands.detect_eval import main as evaluate_detection
from kws.commands.hydra_command import hydra_command
from kws.errors import KWSError
from kws.ship.exporter import export


def export_and_calibrate(cfg: DictConfig) -> dict[str, Path]:
    calibration = cfg.detection
    _check(calibration)  # before exporting: a typo should not cost an export first
    files = export(cfg)
    if calibration.target_fa_per_hour is not None:
        root = cfg.data.root or json.loads(files["sidecar"].read_text())["training_data"]["root"]
        budget = calibration.target_fa_per_hour
        print(f"calibrating kws-detect for {budget} false accepts/h on the validation split of {root}")
        evaluate_detection(
            [
                str(files["sidecar"].parent),
                str(root),
                "--split=validation",
                f"--calibrate={budget}",
                f"--hours={calibration.hours}",
                f"--synthetic-words={calibration.synthetic_words}",
                "--negatives",
                *map(str, calibration.negatives),
            ]
        )
    return files


def _check(calibration: DictConfig) -> None:
    budget, hours = calibration.target_fa_per_hour, calibration.hours
    if budget is None:
        return
    if not _is_number(budget) or budget < 0:
        raise KWSError(
            f"detection.target_fa_per_hour: {budget!r} is not a number of false accepts per hour >= 0"
        )
    if not _is_number(hours) or hours <= 0:
        raise KWSError(f"detection.hours: {hours!r} is not a positive number of hours")
    words = calibration.synthetic_words
    if not isinstance(words, int) or isinstance(words, bool) or words < 0:
        raise KWSError(f"detection.synthetic_words: {words!r} is not a number of eSpeak words >= 0")
    for path in calibration.negatives:
        if not Path(path).exists():
            raise KWSError(f"detection.negatives: {path} does not exist")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@hydra_command("export")
def main(cfg: DictConfig) -> None:
    out_dir = Path(cfg.paths.output_dir)
    try:
        export_and_calibrate(cfg)
    except BaseException:
        # Hydra makes the output folder before the export starts; a failed export leaves nothing behind
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


if __name__ == "__main__":
    main()
