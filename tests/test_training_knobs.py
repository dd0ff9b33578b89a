"""Initialisation, losses, schedules, L1, clipping and the learning-rate finder."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from matplotlib.image import imread
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.optim.swa_utils import AveragedModel

from kws.commands.train import train
from kws.errors import KWSError
from kws.models import build_network
from kws.models.initialisation import initialise
from kws.training.callbacks import ema_with_warmup
from kws.training.checkpoint import load_checkpoint
from kws.training.losses import FocalLoss
from kws.training.lr_find import steepest_descent
from kws.training.schedules import cosine, one_cycle
from kws.training.trainer import config_callbacks
from tests.conftest import CONFIG_DIR, compose_config
from tests.test_pipeline import FAST


def _network(tmp_path, init: str) -> nn.Module:
    cfg = compose_config("train", tmp_path, [])
    torch.manual_seed(0)
    net = build_network(dict(cfg.model), dict(cfg.features), num_classes=4, sample_rate=16000)
    initialise(net, init)
    return net


def _fit_fixed_batch(net: nn.Module, steps: int = 15) -> tuple[list[float], torch.Tensor]:
    torch.manual_seed(1)
    waveform, target = torch.randn(16, 8000) * 0.1, torch.arange(16) % 4
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        logits = net(waveform)
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, (logits.argmax(-1) == target).float().mean()  # in training mode: BN batch statistics


def _weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def test_zero_init_does_not_learn_every_unit_stays_identical(tmp_path):
    net = _network(tmp_path, "zeros")
    losses, accuracy = _fit_fixed_batch(net)
    for weight in _weights(net):
        rows = weight.detach().flatten(1)
        assert torch.equal(rows, rows[:1].expand_as(rows)), "units of a zero-initialised layer diverged"
    assert accuracy <= 0.25  # chance on 4 balanced classes: only the output bias can move
    assert min(losses) > math.log(4) - 1e-3


@pytest.mark.parametrize("init", ["default", "kaiming", "xavier"])
def test_real_initialisations_learn(tmp_path, init):
    losses, accuracy = _fit_fixed_batch(_network(tmp_path, init))
    assert losses[-1] < 0.5 * losses[0] and accuracy >= 0.9


def test_kaiming_and_xavier_scales():
    conv, linear = nn.Conv2d(16, 32, 3), nn.Linear(256, 10)
    initialise(nn.Sequential(conv, linear), "kaiming")
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.1)  # fan-out
    assert linear.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.1)
    assert not conv.bias.any()
    initialise(linear, "xavier")
    assert linear.weight.abs().max().item() <= math.sqrt(6 / (256 + 10))


def test_unknown_init_is_a_clear_error():
    with pytest.raises(KWSError, match="init: unknown scheme 'he'"):
        initialise(nn.Linear(2, 2), "he")


def test_focal_loss_generalises_weighted_cross_entropy():
    torch.manual_seed(0)
    logits, target, weight = torch.randn(32, 5) * 3, torch.randint(0, 5, (32,)), torch.rand(5) + 0.5
    assert FocalLoss(gamma=0.0)(logits, target) == pytest.approx(F.cross_entropy(logits, target).item())
    weighted = F.cross_entropy(logits, target, weight=weight)
    assert FocalLoss(gamma=0.0, weight=weight)(logits, target) == pytest.approx(weighted.item(), rel=1e-5)
    per_clip = F.cross_entropy(logits, target, reduction="none")
    p = torch.exp(-per_clip)
    assert FocalLoss(gamma=2.0)(logits, target) == pytest.approx(((1 - p) ** 2 * per_clip).mean().item())


def test_schedules_warm_up_peak_and_decay():
    def lrs(make, steps=100):
        optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler, seen = make(optimizer, total_steps=steps), []
        for _ in range(steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return seen

    warm = lrs(lambda o, total_steps: cosine(o, total_steps, warmup_fraction=0.1))
    assert warm[0] == pytest.approx(0.01) and max(warm) == pytest.approx(0.1) and warm.index(0.1) == 9
    assert warm[-1] < 0.001
    plain = lrs(cosine)
    assert plain[0] == pytest.approx(0.1) and all(a >= b for a, b in zip(plain, plain[1:], strict=False))
    cycle = lrs(lambda o, total_steps: one_cycle(o, total_steps, pct_start=0.3))
    assert max(cycle) == pytest.approx(0.1) and cycle[0] < 0.01 and cycle[-1] < 1e-4


@pytest.mark.parametrize(
    ("group_overrides", "loss_type", "smoothing"),
    [(["loss=label_smoothing"], "CrossEntropyLoss", 0.1), (["loss=focal"], "FocalLoss", 0.0)],
)
def test_every_knob_trains_end_to_end(tiny_synth_root, tmp_path, group_overrides, loss_type, smoothing):
    overrides = [
        f"data.root={tiny_synth_root}",
        "trainer.max_epochs=1",
        "optimizer=sgd",
        "scheduler=one_cycle",
        "init=kaiming",
        "l1_penalty=1e-5",
        "trainer.gradient_clip_val=1.0",
        *group_overrides,
        *FAST,
    ]
    metrics, objects = train(compose_config("train", tmp_path, overrides))
    module = objects["module"]
    assert type(module.objective).__name__ == loss_type and module.objective.label_smoothing == smoothing
    assert type(objects["trainer"].optimizers[0]).__name__ == "SGD"
    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    assert {"train/objective", "train/loss"} <= set(events.Tags()["scalars"])  # objective ≠ cross-entropy
    assert math.isfinite(metrics["test/loss"])


def test_ema_weights_are_what_validation_tests_and_checkpoints_see(tiny_synth_root, tmp_path):
    ema = ["callbacks.weight_averaging.kind=ema", "callbacks.weight_averaging.decay=0.9"]
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=2", *ema, *FAST]
    metrics, objects = train(compose_config("train", tmp_path, overrides))
    checkpoint = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=False)
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    weight = "network.classifier.weight" if "network.classifier.weight" in averaged else next(iter(averaged))
    assert not torch.equal(averaged[weight], current[weight])  # the checkpoint's model is the average
    restored = load_checkpoint(metrics["best_checkpoint"])
    assert torch.equal(dict(restored.named_parameters())[weight], averaged[weight])
    with pytest.raises(KWSError, match="callbacks.weight_averaging.kind: 'mean' is not one of"):
        train(compose_config("train", tmp_path / "bad", [*overrides, "callbacks.weight_averaging.kind=mean"]))


def test_ema_forgets_the_untrained_first_weights():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    nn.init.zeros_(model[0].weight)
    averaged = AveragedModel(model, multi_avg_fn=ema_with_warmup(0.999), use_buffers=True)
    averaged.update_parameters(model)  # the first update copies: the untrained weights
    nn.init.ones_(model[0].weight)
    model[1].num_batches_tracked.fill_(7)
    for _ in range(200):
        averaged.update_parameters(model)
    # a fixed 0.999 would still hold 0.999**200 = 82 % of the zeros: 0.18
    assert averaged.module[0].weight.min() > 0.99
    assert averaged.module[1].num_batches_tracked.item() == 7


def test_warmup_config_extends_cosine(tmp_path):
    cfg = compose_config("train", tmp_path, ["scheduler=warmup"])
    assert cfg.scheduler._target_ == "kws.training.schedules.cosine" and cfg.scheduler.warmup_fraction == 0.05


def test_lr_find_saves_the_plot_and_a_suggestion(tiny_synth_root, tmp_path):
    overrides = [f"data.root={tiny_synth_root}", "lr_find=true", *FAST]
    metrics, _ = train(compose_config("train", tmp_path, overrides))
    saved = json.loads((tmp_path / "lr_find.json").read_text())
    assert 1e-6 <= metrics["lr_suggestion"] == saved["suggestion"] <= 1.0
    assert min(saved["lr"]) <= saved["suggestion"] <= max(saved["lr"])  # a point of the measured curve
    pixels = imread(tmp_path / "lr_find.png")[..., :3]
    assert pixels.shape[0] >= 300 and pixels.std() > 0.05  # a drawn plot, not a blank canvas
    assert len(saved["lr"]) > 60  # not cut short by max_epochs on a 4-batch training set
    assert not (tmp_path / "checkpoints").exists()  # range test only, no training run


def test_lr_suggestion_is_the_steepest_fall_per_decade_before_the_minimum():
    lrs = [10 ** (-6 + 6 * i / 99) for i in range(100)]
    # flat and noisy at the low end, a steep fall around 1e-2, divergence after 1e-1
    losses = [
        2.0 + 0.01 * (-1) ** i - 1.5 / (1 + math.exp(-(math.log10(lr) + 2) * 4)) for i, lr in enumerate(lrs)
    ]
    losses = [
        loss + (50 * (math.log10(lr) + 1) if lr > 0.1 else 0) for loss, lr in zip(losses, lrs, strict=True)
    ]
    assert steepest_descent(lrs, losses) == pytest.approx(1e-2, rel=0.3)


def test_gpu_trainer_config_trains_in_bf16_mixed_precision(tiny_synth_root, tmp_path):
    # trainer=gpu's precision on the CPU (CI has no GPU): bf16 logits reach every metric and report.
    overrides = ["trainer=gpu", f"data.root={tiny_synth_root}", "trainer.max_epochs=1", *FAST]
    cfg = compose_config("train", tmp_path, overrides)
    assert cfg.trainer.precision == "bf16-mixed"
    metrics, _ = train(cfg)
    assert math.isfinite(metrics["test/loss"]) and 0 <= metrics["test/acc"] <= 1


@pytest.mark.parametrize("name", sorted(path.stem for path in (CONFIG_DIR / "experiment").glob("*.yaml")))
def test_every_experiment_composes_with_the_train_config(tmp_path, name):
    cfg = compose_config("train", tmp_path, [f"experiment={name}"])
    assert cfg.trainer.max_epochs > 0 and cfg.model._target_


def test_the_bcresnet_recipe_is_real_small_with_only_the_model_changed(tmp_path):
    small = OmegaConf.to_container(compose_config("train", tmp_path, ["experiment=real_small"]))
    best = OmegaConf.to_container(compose_config("train", tmp_path, ["experiment=real_small_bcresnet"]))
    assert best.pop("model")["_target_"] == "kws.models.bcresnet.BCResNet"
    small.pop("model")
    assert best == small


def test_the_detection_recipe_is_data_detection_trained_80_epochs(tmp_path):
    recipe = OmegaConf.to_container(compose_config("train", tmp_path, ["experiment=detection"]))
    by_hand = OmegaConf.to_container(
        compose_config("train", tmp_path, ["data=detection", "trainer.max_epochs=80"])
    )
    assert recipe == by_hand and recipe["data"]["unknown_fraction"] > 0


def test_callbacks_come_from_config_and_the_optional_ones_are_off_until_switched_on(tmp_path):
    def names(*overrides):
        cfg = compose_config("train", tmp_path, list(overrides))
        return [type(callback).__name__ for callback in config_callbacks(cfg.callbacks)]

    assert names() == ["EpochSummary", "CurveDiagnostics"]
    switched_on = names(
        "callbacks.early_stopping.monitor=val/acc",
        "callbacks.weight_averaging.kind=swa",
        "callbacks.gradient_monitor.every_n_steps=5",
        "+callbacks.lr._target_=lightning.pytorch.callbacks.LearningRateMonitor",
    )
    assert switched_on[2:] == ["EarlyStopping", "WeightAveraging", "GradientMonitor", "LearningRateMonitor"]
