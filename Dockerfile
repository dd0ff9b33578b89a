# kws on a CUDA runtime base. Build, then train on the GPUs with data and runs as volumes:
#   docker build -t kws .
#   docker run --rm --gpus all -v "$PWD/data:/data" -v "$PWD/outputs:/outputs" kws trainer=gpu data.root=/data/offline_kws
# The entry point is kws-train; any Hydra override can follow. Other tools:
#   docker run --rm --entrypoint kws-eval -v "$PWD/outputs:/outputs" kws ckpt_path=/outputs/train/<run>/checkpoints/best.ckpt
FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/kws \
    PATH=/opt/kws/bin:$PATH

# Ubuntu's own python3 (3.12); the PyPI torch wheel brings its CUDA libraries, the base image the driver
# interface. Versions come from the pinned base image's release, so apt pins would only go stale.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/kws \
    && useradd --create-home --uid 1001 kws

WORKDIR /opt/kws/src
COPY pyproject.toml README.md ./
COPY kws ./kws
COPY configs ./configs
RUN pip install --no-cache-dir . && rm -rf /opt/kws/src/build

USER 1001
WORKDIR /work
VOLUME ["/data", "/outputs"]
ENTRYPOINT ["kws-train", "paths.data_dir=/data", "paths.log_dir=/outputs"]
