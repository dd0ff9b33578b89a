"""Batch augmentation: each part does what its config says, only in training, reproducibly for a seed."""

import logging

import lightning as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from kws.data.audio import fit_length
from kws.data.preparation import Decoding, Preparation
from kws.models.features import LogMel
from kws.training.augmentation import Mixup, SpecAugment, WaveformAugment, _fit_length, mix_objective
from kws.training.module import KWSModule
from tests.conftest import compose_config

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SR = 16000


def speech_like(batch: int, length: int = SR, device: str = "cpu") -> torch.Tensor:
    """Tone bursts of random level, so every clip has its own RMS."""
    t = torch.arange(length, device=device) / SR
    level = torch.rand(batch, 1, device=device) * 0.5 + 0.01
    return level * torch.sin(2 * torch.pi * 440 * t) * (t > 0.2) * (t < 0.7)


def rms(x: torch.Tensor) -> torch.Tensor:
    return x.pow(2).mean(dim=-1).sqrt()


def noisy(noise_prob: float = 1.0, snr: tuple[float, float] = (5.0, 20.0), bank_seconds: float = 3.0):
    augment = WaveformAugment(SR, noise_prob=noise_prob, snr_db_min=snr[0], snr_db_max=snr[1])
    augment.set_noise(torch.randn(int(bank_seconds * SR)) * 0.3)
    return augment


def test_identity_in_eval_mode():
    waveform_augment = WaveformAugment(SR, 100, 1.0, 5, 20, 0.8, 1.2)
    waveform_augment.set_noise(torch.randn(SR))
    spec_augment = SpecAugment(2, 10, 2, 5)
    waveform, features = speech_like(4), torch.randn(4, 40, 101)
    assert waveform_augment.eval()(waveform) is waveform
    assert spec_augment.eval()(features) is features


def test_shift_moves_each_clip_with_zero_fill_within_the_limit():
    augment = WaveformAugment(SR, max_shift_ms=100).train()
    ramp = torch.arange(1, SR + 1, dtype=torch.float32).repeat(256, 1)  # every sample names its position
    out = augment(ramp)
    first = (out != 0).int().argmax(dim=1)
    shifts = first - (out[torch.arange(256), first] - 1).long()
    assert shifts.abs().max() <= 1600 and len(shifts.unique()) > 100
    for row, shift in zip(out, shifts.tolist(), strict=True):
        expected = torch.zeros(SR)
        if shift >= 0:
            expected[shift:] = ramp[0, : SR - shift]
        else:
            expected[:shift] = ramp[0, -shift:]
        assert torch.equal(row, expected)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_noise_is_mixed_at_the_drawn_snr(snr_db):
    clean = speech_like(64)
    mixed = noisy(snr=(snr_db, snr_db)).train()(clean)
    measured = 20 * torch.log10(rms(clean) / rms(mixed - clean))
    assert torch.allclose(measured, torch.full_like(measured, snr_db), atol=0.5)


def test_noise_snr_stays_in_range_and_windows_differ():
    clean = speech_like(512)
    added = noisy(snr=(5.0, 20.0)).train()(clean) - clean
    measured = 20 * torch.log10(rms(clean) / rms(added))
    assert measured.min() >= 4.9 and measured.max() <= 20.1 and measured.std() > 3
    unit = added / rms(added).unsqueeze(1)
    assert not torch.allclose(unit[0], unit[1])  # different windows of the bank


@pytest.mark.parametrize(("noise_prob", "low", "high"), [(0.0, 0.0, 0.0), (0.3, 0.25, 0.35), (1.0, 1.0, 1.0)])
def test_noise_prob_is_the_share_of_noisy_clips(noise_prob, low, high):
    clean = speech_like(2000)
    changed = (noisy(noise_prob).train()(clean) != clean).any(dim=1).float().mean()
    assert low <= changed <= high


def test_silent_clips_and_silent_or_short_banks_stay_finite():
    augment = WaveformAugment(SR, noise_prob=1.0).train()
    augment.set_noise(torch.zeros(2 * SR))
    clip = speech_like(3)
    assert torch.equal(augment(clip), clip)
    augment.set_noise(torch.randn(1000))  # shorter than a clip: looped
    silent = torch.zeros(3, SR)
    assert torch.equal(augment(silent), silent)
    assert torch.isfinite(augment(clip)).all() and not torch.equal(augment(clip), clip)


def test_missing_noise_bank_skips_mixing_with_one_warning(caplog):
    augment = WaveformAugment(SR, noise_prob=1.0).train()
    clip = speech_like(4)
    with caplog.at_level(logging.WARNING, logger="kws.training.augmentation"):
        assert torch.equal(augment(clip), clip)
        assert torch.equal(augment(clip), clip)
    assert len([r for r in caplog.records if "noise mixing is off" in r.message]) == 1


@pytest.mark.parametrize(("factor", "duration"), [(2.0, 2000), (0.8, 5000), (0.5, 8000)])
def test_speed_changes_the_duration_then_keeps_the_length_centred(factor, duration):
    burst = torch.zeros(2, SR)
    burst[:, 6000:10000] = 1.0  # 4000 samples, centred
    out = WaveformAugment(SR, speed_min=factor, speed_max=factor).train()(burst)
    assert out.shape == burst.shape
    loud = (out > 0.5).nonzero()[:, 1]
    assert abs(len(loud) / 2 - duration) <= 2
    assert abs((loud.float().mean() - SR / 2).item()) <= 2


@pytest.mark.parametrize("length", [9, 10, 16, 17])
def test_batch_fit_length_centres_like_the_data_module(length):
    clips = np.arange(1, 27, dtype=np.int16).reshape(2, 13)
    batch = _fit_length(torch.from_numpy(clips), length).numpy()
    np.testing.assert_array_equal(batch, np.stack([fit_length(c, length) for c in clips]))


def test_speed_factor_is_drawn_per_batch_within_range():
    augment = WaveformAugment(SR, speed_min=0.9, speed_max=1.1).train()
    burst = torch.zeros(8, SR)
    burst[:, 6000:10000] = 1.0
    durations = [(augment(burst) > 0.5).sum(dim=1) for _ in range(20)]
    assert all(len(d.unique()) == 1 for d in durations)  # one factor for the whole batch
    seen = torch.stack([d[0] for d in durations]).float()
    assert seen.min() >= 4000 / 1.1 - 2 and seen.max() <= 4000 / 0.9 + 2 and seen.std() > 50


def band_count(mask: torch.Tensor) -> torch.Tensor:
    """Runs of True per row (overlapping masks merge into one)."""
    return (mask[:, 1:] & ~mask[:, :-1]).sum(dim=1) + mask[:, 0]


def test_spec_augment_masks_at_most_the_configured_bands_with_the_clip_mean():
    features = torch.randn(256, 40, 101)
    out = SpecAugment(time_masks=2, time_mask_width=10, freq_masks=3, freq_mask_width=5).train()(features)
    assert out.shape == features.shape
    changed = out != features
    frames, bins = changed.all(dim=1), changed.all(dim=2)  # fully masked columns and rows
    assert frames.sum(dim=1).max() <= 20 and bins.sum(dim=1).max() <= 15
    assert frames.sum(dim=1).float().mean() > 5 and bins.sum(dim=1).float().mean() > 3
    assert torch.equal(changed, frames.unsqueeze(1) | bins.unsqueeze(2))  # nothing outside the bands
    assert band_count(frames).max() <= 2 and band_count(bins).max() <= 3
    fill = features.mean(dim=(1, 2), keepdim=True).expand_as(features)
    assert torch.equal(out[changed], fill[changed])


def full_pipeline(device: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    waveform_augment = WaveformAugment(SR, 100, 0.8, 5, 20, 0.9, 1.1).train().to(device)
    waveform_augment.set_noise(torch.linspace(-1, 1, 3 * SR).sin())  # not random: only the draws vary
    frontend = LogMel(SR).to(device=device, dtype=dtype)
    features = frontend(
        waveform_augment(torch.linspace(-0.5, 0.5, 8 * SR, device=device, dtype=dtype).view(8, SR))
    )
    return SpecAugment(2, 10, 2, 5).train()(features)


def test_same_seed_same_batch_other_seed_other_batch():
    torch.manual_seed(0)
    first = full_pipeline("cpu")
    torch.manual_seed(0)
    assert torch.equal(full_pipeline("cpu"), first)
    torch.manual_seed(1)
    assert not torch.equal(full_pipeline("cpu"), first)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_device_dtype_and_shape(device, dtype):
    out = full_pipeline(device, dtype)
    assert out.shape == (8, 40, 101) and out.dtype == dtype and out.device.type == device
    assert torch.isfinite(out).all()


class NoisyData(L.LightningDataModule):
    def train_dataloader(self) -> DataLoader:
        audio = (speech_like(32, 12000) * 32767).to(torch.int16)
        return DataLoader(TensorDataset(audio, torch.arange(32) % 4), batch_size=16)

    def background_noise(self) -> torch.Tensor:
        return torch.randn(3 * SR) * 0.1


@pytest.mark.parametrize("augment", ["none", "default", "mixup"])
def test_module_trains_one_step_and_keeps_augmentation_out_of_network_and_checkpoint(tmp_path, augment):
    overrides = ["augment.mixup.alpha=0.2"] if augment == "mixup" else []
    cfg = OmegaConf.to_container(compose_config("train", tmp_path, overrides))
    preparation = Preparation(("a", "b", "c", "d"), 12000, Decoding(sample_rate=SR), features=cfg["features"])
    module = KWSModule(
        preparation=preparation.as_dict(),
        model=cfg["model"],
        optimizer=cfg["optimizer"],
        augment=None if augment == "none" else cfg["augment"],
    )
    before = [p.detach().clone() for p in module.parameters()]
    calls = []
    for part in (module.waveform_augment, module.spec_augment):
        part.register_forward_hook(lambda m, inputs, out: calls.append((type(m), m.training)))
    trainer = L.Trainer(
        max_steps=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=NoisyData())
    assert any(not torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=True))
    assert calls == [(WaveformAugment, True), (SpecAugment, True)]
    assert module.waveform_augment.noise.numel() == 3 * SR  # installed at fit start
    assert not any(isinstance(m, (WaveformAugment, SpecAugment)) for m in module.network.modules())

    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=False)
    assert not any("noise" in key for key in checkpoint["state_dict"])
    del checkpoint["hyper_parameters"]["augment"]  # as written before augmentation existed
    torch.save(checkpoint, path)
    restored = KWSModule.load_from_checkpoint(path, map_location="cpu")
    assert restored.hparams.get("augment") is None and not restored.spec_augment.enabled


def test_mixup_blends_clips_of_the_batch_with_the_own_clip_dominant_and_weighs_both_labels():
    assert Mixup(0.0)(speech_like(4))[1] is None  # off: the batch untouched, no randomness used
    with pytest.raises(ValueError, match="augment.mixup.alpha"):
        Mixup(-0.1)
    waveform, target = speech_like(32), torch.arange(32) % 4
    torch.manual_seed(0)
    mixed, partner, share = Mixup(0.4)(waveform)
    assert 0.5 <= share <= 1.0 and sorted(partner.tolist()) == list(range(32))
    torch.testing.assert_close(mixed, share * waveform + (1 - share) * waveform[partner])
    assert mixed.abs().max() <= waveform.abs().max()  # a convex blend: levels stay in range
    torch.manual_seed(0)
    again, partner_again, _ = Mixup(0.4)(waveform)
    assert torch.equal(again, mixed) and torch.equal(partner_again, partner)  # the seed decides
    logits = torch.randn(32, 4)
    objective = torch.nn.CrossEntropyLoss()
    expected = share * objective(logits, target) + (1 - share) * objective(logits, target[partner])
    torch.testing.assert_close(mix_objective(objective, logits, target, partner, share), expected)
    assert mix_objective(objective, logits, target, None, 1.0) == objective(logits, target)
