"""Full-integer int8 .tflite of a kws classifier (log-mel features → logits) via litert-torch's PT2E path.

    OMP_NUM_THREADS=1 .venv/bin/python scratch/int8_tflite.py <best.ckpt> [out] [calibration clips] [fold]

The front-end stays outside, as firmware computes it. With `fold`, the classifier first goes through
fold.integer_ready (input BatchNorm moved into the feature step, CNN stages reordered so BN folds).
Quantised with mean_quantizer.MeanObservingQuantizer (litert-torch's PT2EQuantizer + observed global
means). Prints the op list, every op that still touches float, and test accuracy of the float
classifier, the PT2E fake-quantised one and the int8 file.
"""

import sys

import litert_torch
import numpy as np
import torch
from clips import checkpoint_arg, load, out_dir, timed
from fold import integer_ready
from int8_io import io_quantization, quantize_input, run_int8
from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config
from litert_torch.quantize.quant_config import QuantConfig
from mean_quantizer import MeanObservingQuantizer
from tflite_ops import float_ops, op_list
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e


def features_of(network, waveforms: np.ndarray, batch: int = 256) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate(
            [
                network.frontend(torch.from_numpy(waveforms[i : i + batch])).numpy()
                for i in range(0, len(waveforms), batch)
            ]
        )


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())


def quantise(classifier: torch.nn.Module, calibration: np.ndarray, quantizer_class=MeanObservingQuantizer):
    """The PT2E-quantised classifier (an fx GraphModule) and the quantizer that made it."""
    example = (torch.from_numpy(calibration[:2]),)
    batch = {"features": {0: torch.export.Dim("batch")}}  # calibrates in batches, converts with one clip
    quantizer = quantizer_class().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(
        torch.export.export(classifier, example, dynamic_shapes=batch).module(), quantizer
    )
    with torch.no_grad():
        for start in range(0, len(calibration), 64):
            prepared(torch.from_numpy(calibration[start : start + 64]))
    return convert_pt2e(prepared, fold_quantize=False), quantizer


def main() -> None:
    module, test_waves, test_labels, train_waves = load(checkpoint_arg())
    network = module.network.eval()
    name = type(network.classifier).__name__
    folder = out_dir()
    calibration_count = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    rng = np.random.default_rng(0)
    calibration = features_of(
        network, train_waves[np.sort(rng.choice(len(train_waves), calibration_count, replace=False))]
    )
    test_features = features_of(network, test_waves)
    with torch.no_grad():
        float_logits = network.classifier(torch.from_numpy(test_features)).numpy()
    classifier = network.classifier
    if "fold" in sys.argv[4:]:
        scale, shift, classifier = integer_ready(classifier)
        name += ".folded"
        calibration = calibration * scale[:, None].numpy() + shift[:, None].numpy()
        test_features = test_features * scale[:, None].numpy() + shift[:, None].numpy()
        with torch.no_grad():
            folded_logits = classifier(torch.from_numpy(test_features)).numpy()
        diff = np.abs(folded_logits - float_logits).max()
        print(f"folded classifier vs original (float): max |logit diff| {diff:.2e}")
    with timed(f"PT2E prepare + calibrate on {calibration_count} clips + convert_pt2e"):
        quantised, quantizer = quantise(classifier, calibration)
    with torch.no_grad():
        fake_logits = quantised(torch.from_numpy(test_features)).numpy()
    int8_path = folder / f"{name}.int8.tflite"
    with timed("litert_torch.convert (PT2E int8)"):
        litert_torch.convert(
            quantised,
            (torch.from_numpy(calibration[:1]),),
            quant_config=QuantConfig(pt2e_quantizer=quantizer),
        ).export(str(int8_path))
    print(f"{int8_path.name}: {int8_path.stat().st_size} bytes, I/O {io_quantization(int8_path)}")
    print(f"  ops: {op_list(int8_path)}")
    print("  ops touching float:", *(float_ops(int8_path) or ["none: full integer"]), sep="\n    ")
    int8_logits = run_int8(int8_path, test_features)
    scores = {
        "float": accuracy(float_logits, test_labels),
        "PT2E fake-quant": accuracy(fake_logits, test_labels),
        "int8 tflite": accuracy(int8_logits, test_labels),
    }
    print(f"test accuracy on {len(test_labels)} clips:", ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    np.save(folder / f"{name}.test_features.npy", quantize_input(int8_path, test_features))
    np.save(folder / f"{name}.test_labels.npy", test_labels)


if __name__ == "__main__":
    main()
