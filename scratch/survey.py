"""Which layers of each microcontroller-sized zoo model keep float ops in a PT2E int8 .tflite: every
classifier built from its configs/model/*.yaml (random weights; BatchNorm statistics from a few training-mode
batches), converted as it is with litert-torch's own PT2EQuantizer, then without its input BatchNorm (left
to the feature step) with mean_quantizer.MeanObservingQuantizer.

    OMP_NUM_THREADS=1 .venv/bin/python scratch/survey.py [out folder]
"""

import sys
from collections import Counter
from pathlib import Path

import litert_torch
import torch
import yaml
from int8_tflite import quantise
from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
from litert_torch.quantize.quant_config import QuantConfig
from mean_quantizer import MeanObservingQuantizer
from tflite_ops import float_ops, op_list
from torch import nn

from kws.models import build_network

MODELS = ("cnn", "dscnn", "tcresnet", "bcresnet", "res8")
N_MELS, FRAMES, CLASSES = 40, 60, 35
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def classifier_of(model: str) -> nn.Module:
    config = yaml.safe_load((CONFIGS / "model" / f"{model}.yaml").read_text())
    features = yaml.safe_load((CONFIGS / "features" / "logmel.yaml").read_text())
    classifier = build_network(config, features, CLASSES, 16000).classifier
    classifier.train()
    with torch.no_grad():  # BatchNorm running statistics that are not the identity
        for _ in range(5):
            classifier(torch.randn(32, N_MELS, FRAMES) * 3 - 5)
    return classifier.eval()


def convert(classifier: nn.Module, path: Path, quantizer_class) -> None:
    calibration = (torch.randn(64, N_MELS, FRAMES) * 3 - 5).numpy()
    quantised, quantizer = quantise(classifier, calibration, quantizer_class)
    litert_torch.convert(
        quantised, (torch.from_numpy(calibration[:1]),), quant_config=QuantConfig(pt2e_quantizer=quantizer)
    ).export(str(path))


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wt40_survey")
    folder.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        classifier = classifier_of(model)
        for variant, quantizer_class in (("as-is", PT2EQuantizer), ("no-input-norm", MeanObservingQuantizer)):
            if variant == "no-input-norm":
                classifier.input_norm = nn.Identity()
            path = folder / f"{model}.{variant}.tflite"
            try:
                convert(classifier, path, quantizer_class)
            except Exception as err:  # a prototype: report and go on with the next model
                print(f"== {model} {variant}: conversion failed: {str(err).splitlines()[0][:300]}")
                continue
            floats = float_ops(path)
            kinds = Counter(line.split()[1] for line in floats)
            size = path.stat().st_size
            print(f"== {model} {variant}: {size} bytes, {len(floats)} ops touching float {dict(kinds)}")
            print(f"   ops: {op_list(path)}")


if __name__ == "__main__":
    main()
