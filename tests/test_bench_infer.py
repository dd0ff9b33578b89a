"""scripts/bench_infer.py measures what it claims: a runtime made slower on purpose is reported slower by the
ratio of the delays, per clip at batch 1 and in clips/s on a batch, and the warm-up call is not timed.
(tests/test_ship.py runs the script end to end on a real export.)

No timing verdicts on real runtimes: the injected delays dominate every figure checked."""

import time

import numpy as np

DELAY_S = 0.01  # per clip of a call: "pytorch_eager" gets one, "onnx_fp32" three


def _sleeper(per_clip_s: float, first_call_s: float = 0.0):
    calls = []

    def run(batch: np.ndarray) -> np.ndarray:
        time.sleep(first_call_s if not calls else per_clip_s * len(batch))
        calls.append(len(batch))
        return batch

    return run, calls


def test_seconds_per_call_leaves_the_warm_up_call_out(script_module):
    bench = script_module("bench_infer")
    run, calls = _sleeper(DELAY_S, first_call_s=1.0)
    seconds = bench._seconds_per_call(run, np.zeros((2, 8), np.float32), 3)
    assert calls == [2] * 4 and 2 * DELAY_S <= seconds < 2 * DELAY_S + 0.2


def test_bench_infer_reports_a_runtime_three_times_as_slow_at_a_third_of_the_speed(script_module):
    bench = script_module("bench_infer")
    (fast, fast_calls), (slow, slow_calls) = _sleeper(DELAY_S), _sleeper(3 * DELAY_S)
    single, batch = np.zeros((1, 8), np.float32), np.zeros((4, 8), np.float32)
    result = bench.measure({"pytorch_eager": fast, "onnx_fp32": slow}, single, batch, 2, 4, 1)
    assert fast_calls == slow_calls == [1, 1, 1, 4, 4] * 2  # per round: warm-up + 2 latency runs, then batch
    eager, onnx = result["pytorch_eager"], result["onnx_fp32"]
    assert eager["ms_per_clip"] >= 1e3 * DELAY_S and onnx["ms_per_clip"] >= 1e3 * 3 * DELAY_S
    assert 2.4 < onnx["ms_per_clip"] / eager["ms_per_clip"] < 3.1
    assert eager["clips_per_s"] <= 1 / DELAY_S and 2.4 < eager["clips_per_s"] / onnx["clips_per_s"] < 3.1
