"""The LightningModule: cross-entropy training of a KeywordSpotter, built from plain hyper-parameters.

Everything needed to rebuild and use the model is a hyper-parameter: `preparation` (kws.data.preparation:
labels, rate, trimming, clip length, scaling, features), the network, and which data it learnt from, so
`load_checkpoint(path)` (kws.training.checkpoint) works without Hydra or the training overrides.
Augmentation wraps the network's front-end in training steps only; `self.network`, which eval and export
use, never contains it.
"""

import math
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric

from kws.data.preparation import Preparation
from kws.errors import KWSError
from kws.evaluation.metrics import calibration_bins, ece_from_bins
from kws.models import build_network
from kws.models.initialisation import initialise
from kws.training.augmentation import Mixup, SpecAugment, WaveformAugment, mix_objective


class KWSModule(L.LightningModule):
    def __init__(
        self,
        preparation: dict[str, Any],
        model: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        augment: dict[str, Any] | None = None,
        class_weights: list[float] | None = None,
        loss: dict[str, Any] | None = None,
        init: str = "default",
        l1_penalty: float = 0.0,
    ) -> None:
        """`preparation` is Preparation.as_dict(); `data` which clips it learnt from (KWSDataModule.
        data_record: root and task), so kws-eval can rebuild the splits; `augment` is
        configs/augment/*.yaml as a dict ({waveform: …, spec: …, mixup: …}), None = no augmentation;
        `class_weights` weight the training loss; `loss` is configs/loss/*.yaml (None = cross-entropy);
        `init` a scheme of kws.models.initialisation; `l1_penalty` λ adds λ·Σ|w| over all weight
        matrices/kernels to the training objective."""
        super().__init__()
        self.save_hyperparameters(logger=False)  # kws-train logs the key ones with final metrics (HPARAMS)
        self.preparation = Preparation.from_dict(preparation, "KWSModule")
        rate = self.preparation.sample_rate
        self.network = build_network(model, self.preparation.features, len(self.preparation.labels), rate)
        initialise(self.network, init)
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.objective = hydra.utils.instantiate(
            loss or {"_target_": "torch.nn.CrossEntropyLoss"}, weight=weights
        )
        plain = isinstance(self.objective, torch.nn.CrossEntropyLoss) and not self.objective.label_smoothing
        # The objective is worth its own curve only when it differs from the logged cross-entropy.
        self._log_objective = not plain or weights is not None or bool(l1_penalty)
        names = ("loss", "acc", "objective")
        self._stages_logged: set[str] = set()  # stages whose epoch means this epoch has logged
        self._epoch_means = torch.nn.ModuleDict(
            {f"{stage}_{name}": MeanMetric() for stage in ("train", "val", "test") for name in names}
        )
        augment = augment or {}
        self.waveform_augment = WaveformAugment(rate, **augment.get("waveform", {}))
        self.spec_augment = SpecAugment(**augment.get("spec", {}))
        self.mixup = Mixup(**augment.get("mixup", {}))

    def compile_network(self, backend: str = "inductor") -> None:
        """torch.compile the front-end and the classifier in place (nn.Module.compile), so training's
        forward_augmented and validation's forward both run compiled while the parameters keep their names:
        torch.compile(network) would prefix every state_dict key with `_orig_mod.`."""
        if backend not in torch.compiler.list_backends(exclude_tags=()):
            raise KWSError(f"compile: {backend!r} is not true, false or a torch.compile backend")
        self.network.frontend.compile(backend=backend)
        self.network.classifier.compile(backend=backend)

    def forward(self, waveform: Tensor) -> Tensor:
        """Float waveform [batch, clip_samples] in [-1, 1] → logits."""
        return self.network(waveform)

    def on_fit_start(self) -> None:
        # Data modules without background_noise() (or data without _background_noise_) give no noise bank.
        background_noise = getattr(self.trainer.datamodule, "background_noise", None)
        noise = background_noise() if background_noise is not None else torch.zeros(0)
        self.waveform_augment.set_noise(noise)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        audio, target = batch
        waveform = audio.float() / self.preparation.int16_scale
        partner, share = None, 1.0
        if stage == "train":
            waveform, partner, share = self.mixup(self.waveform_augment(waveform))
            logits = self.network.forward_augmented(waveform, self.spec_augment)
        else:
            # Mixed precision speeds up training only: validation and test score the fp32 network that
            # kws-eval and the exports run, so their figures agree.
            with torch.autocast(self.device.type, enabled=False):
                logits = self(waveform)
        # `{stage}/loss` is plain cross-entropy in every stage, so train and validation curves (and their
        # gap) compare like with like whatever the objective; the objective is logged when it differs.
        cross_entropy = F.cross_entropy(logits, target)
        metrics = {
            f"{stage}/loss": cross_entropy,
            f"{stage}/acc": (logits.argmax(dim=-1) == target).float().mean(),
        }
        objective = cross_entropy
        if stage == "val":
            confidence, predicted = logits.detach().softmax(dim=-1).max(dim=-1)
            self._val_calibration += calibration_bins(confidence, predicted == target)
        if stage == "train":
            objective = mix_objective(self.objective, logits, target, partner, share)
            if self.hparams.l1_penalty:
                objective = objective + self.hparams.l1_penalty * self._l1_norm()
            if self._log_objective:
                metrics["train/objective"] = objective
        for name, value in metrics.items():
            self._epoch_means[name.replace("/", "_")].update(value.detach(), weight=len(target))
        if stage not in self._stages_logged:
            # Logging the metric object (not the value) makes Lightning compute it at the epoch's end,
            # summed over every batch of every DDP process: the exact mean even when shards differ in
            # size. Once an epoch is enough: a self.log call costs ~1 ms of CPU (0.2 s of a 2-core CNN epoch).
            for name in metrics:
                mean = self._epoch_means[name.replace("/", "_")]
                self.log(name, mean, on_step=False, on_epoch=True, prog_bar=stage != "test")
            self._stages_logged.add(stage)
        return objective

    def on_train_epoch_start(self) -> None:
        self._stages_logged.discard("train")

    def on_test_epoch_start(self) -> None:
        self._stages_logged.discard("test")

    def on_validation_epoch_start(self) -> None:
        self._stages_logged.discard("val")
        nothing = torch.zeros(0, device=self.device)
        self._val_calibration = calibration_bins(nothing, nothing)

    def on_validation_epoch_end(self) -> None:
        """Calibration: mean top-class probability next to accuracy, and their binned gap (ECE)."""
        stats = self.trainer.strategy.reduce(self._val_calibration, reduce_op="sum")  # over DDP processes
        confidence = float(stats[1].sum() / stats[0].sum().clamp(min=1))
        self.log_dict({"val/ece": ece_from_bins(stats), "val/confidence": confidence}, sync_dist=True)

    def _l1_norm(self) -> Tensor:
        return sum(p.abs().sum() for p in self.network.parameters() if p.dim() > 1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        settings = dict(self.hparams.optimizer)
        if settings.get("fused") and self.trainer.gradient_clip_val:
            # Lightning's mixed-precision plugins refuse to clip the gradients of an optimizer that unscales
            # them itself, as fused ones do: clipping wins over the faster step.
            settings["fused"] = False
        optimizer = hydra.utils.instantiate(settings)(self.parameters())
        total_steps = self.trainer.estimated_stepping_batches
        if not self.hparams.scheduler or math.isinf(
            total_steps
        ):  # no schedule for an open-ended run (lr_find)
            return optimizer
        scheduler = hydra.utils.instantiate(self.hparams.scheduler)(optimizer, total_steps=int(total_steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
