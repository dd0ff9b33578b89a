# kws with CUDA. Build, then train on the GPUs with data and runs as volumes:
#   docker build -t kws .
#   docker run --rm --gpus all -v "$PWD/data:/data" -v "$PWD/outputs:/outputs" kws trainer=gpu data.root=/data/offline_kws
# The entry point is kws-train; any Hydra override can follow. Other tools:
#   docker run --rm --entrypoint kws-eval -v "$PWD/data:/data" -v "$PWD/outputs:/outputs" kws \
#     ckpt_path=/outputs/train/<run>/checkpoints/best.ckpt paths.data_dir=/data hydra.run.dir=/outputs/eval
# CPython 3.11, the interpreter requirements.lock is resolved for. The PyPI torch wheel brings its own CUDA
# libraries; `--gpus all` (NVIDIA Container Toolkit) adds the host's driver, so no CUDA base image is needed.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/kws \
    PATH=/opt/kws/bin:$PATH

RUN python -m venv /opt/kws && useradd --create-home --uid 1001 kws
# CMU Flite: the voices of kws-synth's flite_share (Debian's package; everything else comes from the lock).
RUN apt-get update && apt-get install -y --no-install-recommends flite=2.2-5 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kws/src
# The exact environment of `make install` (every version and hash from the lock), in a layer of its own.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY kws ./kws
COPY configs ./configs
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && pip check && rm -rf /opt/kws/src/build

USER 1001
WORKDIR /work
VOLUME ["/data", "/outputs"]
ENTRYPOINT ["kws-train", "paths.data_dir=/data", "paths.log_dir=/outputs"]
