# kws in a container: `docker build -t kws .` then
#   docker run --rm -v "$PWD/data:/data" -v "$PWD/outputs:/outputs" kws data.root=/data/offline_kws
# (issue 7 moves this onto a CUDA runtime base for `docker run --gpus all`).
FROM python:3.11-slim

RUN useradd --create-home --uid 1000 kws
WORKDIR /home/kws/app
COPY --chown=kws:kws pyproject.toml README.md ./
COPY --chown=kws:kws kws ./kws
COPY --chown=kws:kws configs ./configs
RUN pip install --no-cache-dir . && rm -rf /home/kws/app/build

USER kws
WORKDIR /work
VOLUME ["/data", "/outputs"]
ENTRYPOINT ["kws-train", "paths.data_dir=/data", "paths.log_dir=/outputs"]
