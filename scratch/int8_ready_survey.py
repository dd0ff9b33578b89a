"""Float ops of one zoo model's PT2E int8 .tflite, with model-config overrides: random weights, input BN left
to the feature step, the exported graph constant-folded (SSN's scale and shift from BatchNorm buffers become
constants), then elementwise_quantizer.ElementwiseQuantizer.

    OMP_NUM_THREADS=1 ../.venv/bin/python int8_ready_survey.py res8 order=conv_relu_bn
    OMP_NUM_THREADS=1 ../.venv/bin/python int8_ready_survey.py bcresnet ssn_eval=broadcast silu=mul_sigmoid
"""

import os
import sys
from collections import Counter
from pathlib import Path

import litert_torch
import torch
import yaml
from elementwise_quantizer import ElementwiseQuantizer
from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config
from litert_torch.quantize.quant_config import QuantConfig
from survey import CLASSES, CONFIGS, FRAMES, N_MELS
from tflite_ops import float_ops, op_list
from torch import nn
from torchao.quantization.pt2e.constant_fold import constant_fold
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

from kws.models import build_network

FOLD = os.environ.get("CONSTANT_FOLD", "1") == "1"


def quantise(classifier, calibration, quantizer_class):
    example = (torch.from_numpy(calibration[:2]),)
    batch = {"features": {0: torch.export.Dim("batch")}}
    quantizer = quantizer_class().set_global(get_symmetric_quantization_config(is_per_channel=True))
    graph = torch.export.export(classifier, example, dynamic_shapes=batch).module()
    if FOLD:  # buffers → constants: BatchNorm statistics computed into SSN's scale and shift
        constant_fold(graph)
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for start in range(0, len(calibration), 64):
            prepared(torch.from_numpy(calibration[start : start + 64]))
    return convert_pt2e(prepared, fold_quantize=False), quantizer


def convert(classifier, path, quantizer_class, calibration=None):
    if calibration is None:
        calibration = (torch.randn(64, N_MELS, FRAMES) * 3 - 5).numpy()
    quantised, quantizer = quantise(classifier, calibration, quantizer_class)
    litert_torch.convert(
        quantised, (torch.from_numpy(calibration[:1]),), quant_config=QuantConfig(pt2e_quantizer=quantizer)
    ).export(str(path))
    return quantised


def classifier_of(model, overrides):
    config = yaml.safe_load((CONFIGS / "model" / f"{model}.yaml").read_text())
    config.update({k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in overrides)})
    features = yaml.safe_load((CONFIGS / "features" / "logmel.yaml").read_text())
    torch.manual_seed(0)
    classifier = build_network(config, features, CLASSES, 16000).classifier
    classifier.train()
    with torch.no_grad():
        for _ in range(5):
            classifier(torch.randn(32, N_MELS, FRAMES) * 3 - 5)
    return classifier.eval()


def main():
    if sys.argv[1] == "--ckpt":
        from kws.training.checkpoint import load_checkpoint

        classifier, name = (
            load_checkpoint(sys.argv[2]).network.classifier.eval(),
            Path(sys.argv[2]).parts[-4:-2],
        )
        name = "_".join(name)
    else:
        classifier, name = classifier_of(sys.argv[1], sys.argv[2:]), "_".join(sys.argv[1:]).replace("/", "-")
    classifier.input_norm = nn.Identity()
    path = Path("/tmp/wt40_survey") / f"{name}.tflite"
    path.parent.mkdir(exist_ok=True)
    convert(classifier, path, ElementwiseQuantizer)
    floats = float_ops(path)
    kinds = Counter(line.split()[1] for line in floats)
    print(f"== {name}: {path.stat().st_size} bytes, {len(floats)} ops touching float {dict(kinds)}")
    print(f"   ops: {op_list(path)}")
    for line in floats[:12]:
        print("   ", line)


if __name__ == "__main__":
    main()
