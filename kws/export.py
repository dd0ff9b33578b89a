"""kws-export's entry point: kws.ship.export, then, with `detection.target_fa_per_hour`, kws-detect's
threshold and smoothing calibrated on the validation split as `kws-detect-eval --split validation
--calibrate` does (with kws-synth's eSpeak words among the negatives: the ship folder does not import
synth; this thin entry joins them)."""

import json
from pathlib import Path

from omegaconf import DictConfig

from kws.cli import hydra_app
from kws.detect_eval import main as evaluate_detection
from kws.ship.export import export


def export_and_calibrate(cfg: DictConfig) -> dict[str, Path]:
    files = export(cfg)
    calibration = cfg.detection
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


@hydra_app("export")
def main(cfg: DictConfig) -> None:
    export_and_calibrate(cfg)


if __name__ == "__main__":
    main()
