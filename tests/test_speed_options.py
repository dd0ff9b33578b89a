"""kws-train's speed switches change how fast a run goes, never what it learns or saves: `compile=true`
(torch.compile), `data.on_device=true` (splits held on the training device), `trainer.precision=auto` and
`channels_last`, here on the CPU."""

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from kws.commands.train import train
from kws.data.batches import ResidentBatches
from kws.ship.exporter import export
from kws.training import speed
from kws.training.checkpoint import load_checkpoint, read_checkpoint
from kws.training.module import KWSModule
from tests.conftest import compose_config, prepared_module
from tests.test_pipeline import FAST


def _train(root, run_dir, *overrides):
    overrides = [f"data.root={root}", f"data.cache_dir={root.parent / 'cache'}", *FAST, *overrides]
    return train(compose_config("train", run_dir, overrides))


def test_resident_batches_are_the_loaders_batches(tiny_synth_root):
    datamodule = prepared_module(tiny_synth_root, batch_size=16, shuffle_seed=3, train_fraction=0.7)
    loader = datamodule.split_loader("training", train=True, rank=1, world_size=2)
    resident = ResidentBatches(*datamodule._batches("training", True, 1, 2), torch.device("cpu"))
    assert resident.clips.dtype == torch.int16
    for epoch in (0, 1):
        loader.sampler.set_epoch(epoch)
        resident.sampler.set_epoch(epoch)
        for (clips, labels), (expected_clips, expected_labels) in zip(resident, loader, strict=True):
            assert torch.equal(clips, expected_clips) and torch.equal(labels, expected_labels)


@pytest.mark.slow
def test_on_device_data_gives_the_same_run(tiny_synth_root, tmp_path):
    runs = [
        _train(tiny_synth_root, tmp_path / str(on), f"data.on_device={on}", "trainer.max_epochs=2")[0]
        for on in ("false", "true")
    ]
    for key in ("val/acc_best", "test/acc", "test/loss"):
        assert runs[0][key] == runs[1][key], key


@pytest.mark.slow
def test_a_compiled_run_saves_a_plain_checkpoint(tiny_synth_root, tmp_path):
    metrics, objects = _train(tiny_synth_root, tmp_path, "compile=true", "trainer.max_epochs=1")
    assert hasattr(objects["module"].network.classifier, "_compiled_call_impl")  # it did run compiled
    best = metrics["best_checkpoint"]
    keys = read_checkpoint(best)["state_dict"].keys()
    assert not any("_orig_mod" in key for key in keys)
    assert keys == KWSModule(**objects["module"].hparams).state_dict().keys()
    assert 0 <= metrics["test/acc"] <= 1
    load_checkpoint(best)
    files = export(compose_config("export", tmp_path / "export", [f"ckpt_path={best}"]))
    assert files["onnx"].is_file()


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_cpu_computes_it(monkeypatch, native):
    monkeypatch.setattr(speed, "_cpu_has_native_bf16", lambda: native)
    assert speed.resolve_precision("auto", "cpu") == ("bf16-mixed" if native else "32-true")
    assert speed.resolve_precision("32-true", "cpu") == "32-true"  # an explicit choice stands
    assert speed.resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"


def test_the_cpu_bf16_check_reads_names_torch_still_reports():
    """precision=auto reads torch.cpu.get_capabilities(): a renamed key must fail here, not train in fp32."""
    capabilities = torch.cpu.get_capabilities()
    if capabilities["architecture"] == "x86_64":
        assert set(speed.NATIVE_BF16) <= capabilities.keys()
    assert isinstance(speed._cpu_has_native_bf16(), bool)


def test_a_run_records_its_precision_validates_in_fp32_and_trains_channels_last(root, tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "_cpu_has_native_bf16", lambda: True)
    metrics, objects = _train(root, tmp_path, "trainer.max_epochs=1")
    assert OmegaConf.load(tmp_path / "config.yaml").trainer.precision == "bf16-mixed"
    conv = next(m for m in objects["module"].network.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.weight.dtype == torch.float32
    # Validation and test ran in fp32: the fp32 checkpoint scored alone gives the same test loss (bf16
    # would be off in the third digit).
    best = load_checkpoint(metrics["best_checkpoint"]).eval()
    with torch.inference_mode():
        losses = [
            (F.cross_entropy(best(audio.float() / best.preparation.int16_scale), labels, reduction="sum"))
            for audio, labels in objects["datamodule"].split_loader("testing")
        ]
    clips = len(objects["datamodule"].split("testing").labels)
    assert float(sum(losses)) / clips == pytest.approx(metrics["test/loss"], rel=1e-5)


@pytest.mark.parametrize(("clip", "fused"), [(None, True), (1.0, False)])
def test_adamw_steps_fused_unless_gradients_are_clipped_under_mixed_precision(root, tmp_path, clip, fused):
    """A fused AdamW unscales its own gradients, which Lightning's bf16-mixed clipping refuses: the default
    optimizer is fused, and a run with trainer.gradient_clip_val still trains (unfused)."""
    overrides = [
        "trainer.max_epochs=1",
        "trainer.precision=bf16-mixed",
        f"trainer.gradient_clip_val={clip or 'null'}",
    ]
    _, objects = _train(root, tmp_path, *overrides, "test=false")
    optimizer = objects["trainer"].optimizers[0]
    assert type(optimizer).__name__ == "AdamW" and optimizer.defaults["fused"] is fused
