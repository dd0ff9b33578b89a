"""A trained checkpoint's PT2E int8 .tflite as int8_ready_survey.py makes it (input BN moved to the feature
step): ops touching float, and test accuracy float against int8.

    OMP_NUM_THREADS=1 ../.venv/bin/python int8_ready_trained.py <ckpt> [key=value ...]

key=value rebuilds the classifier with other forms on the same state dict (ssn_eval=reshape silu=fused).
clips.py's cache folder is /tmp/wt40_cache."""

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import yaml
from clips import load
from elementwise_quantizer import ElementwiseQuantizer
from fold import band_affine
from int8_io import run_int8
from int8_ready_survey import convert
from int8_tflite import accuracy, features_of
from tflite_ops import float_ops, op_list
from torch import nn

from kws.models import build_network

ckpt, overrides = sys.argv[1], dict(o.split("=", 1) for o in sys.argv[2:])
module, test_waves, test_labels, train_waves = load(ckpt)
network = module.network.eval()
if overrides:
    config = {**dict(module.hparams.model), **{k: yaml.safe_load(v) for k, v in overrides.items()}}
    prep = module.preparation
    rebuilt = build_network(config, prep.features, len(prep.labels), prep.sample_rate)
    rebuilt.load_state_dict(network.state_dict())
    network = rebuilt.eval()
rng = np.random.default_rng(0)
calibration = features_of(network, train_waves[np.sort(rng.choice(len(train_waves), 256, replace=False))])
test_features = features_of(network, test_waves)
classifier = network.classifier
with torch.no_grad():
    float_logits = classifier(torch.from_numpy(test_features)).numpy()
scale, shift = (t[:, None].numpy() for t in band_affine(classifier.input_norm))
classifier.input_norm = nn.Identity()
calibration, test_features = calibration * scale + shift, test_features * scale + shift
name = "_".join(Path(ckpt).parts[-4:-2] + tuple(f"{k}={v}" for k, v in overrides.items()))
path = Path("/tmp/wt40_survey") / f"trained_{name}.int8.tflite"
convert(classifier, path, ElementwiseQuantizer, calibration)
floats = float_ops(path)
int8_logits = run_int8(path, test_features)
print(
    f"== {name}: {path.stat().st_size} bytes, {len(floats)} ops touching float "
    f"{dict(Counter(line.split()[1] for line in floats))}; test acc float "
    f"{accuracy(float_logits, test_labels):.4f} int8 {accuracy(int8_logits, test_labels):.4f} "
    f"({len(test_labels)} clips)"
)
print(f"   ops: {op_list(path)}")
