# syntax=docker/dockerfile:1.7
# SecuStreamAI services image: one image for generator, analyzer, API, migrations and training
# (`secustream <command>`). Multi-stage: a builder with uv makes a self-contained CPython + venv
# under /opt, the runtime stage copies only that onto BASE_IMAGE and runs as a non-root user.
#
#   CPU (default):  docker build -t secustream .
#   GPU analyzer:   docker build -t secustream:gpu \
#                     --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#                     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
#
# Why uv's standalone CPython: it does not depend on the base image's Python, so the same
# venv runs on debian-slim (CPU) and on an NVIDIA CUDA base (GPU) alike.

ARG BASE_IMAGE=debian:bookworm-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.9.5

FROM ${UV_IMAGE} AS uv

FROM debian:bookworm-slim AS builder
ARG PYTHON_VERSION=3.11
ARG TORCH_VERSION=2.13.0
# CPU wheels by default; a CUDA wheel index (e.g. .../whl/cu128) for the GPU image.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
COPY --from=uv /uv /usr/local/bin/uv
# a C compiler for the two extensions (the Sigma prefilter's loops, the normalisers' model build; setup.py);
# only in this stage
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN uv python install "${PYTHON_VERSION}" \
 && uv venv --python "${PYTHON_VERSION}" /opt/venv
# torch first, from the chosen index (a bare `torch` from PyPI would pull the multi-GB CUDA build)
RUN uv pip install --python /opt/venv/bin/python --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY services ./services
COPY operator ./operator
# constraints.txt pins the CPU torch build; the line is dropped so the torch chosen above stays
RUN grep -v '^torch==' constraints.txt > /tmp/constraints.txt \
 && uv pip install --python /opt/venv/bin/python -c /tmp/constraints.txt . \
 && /opt/venv/bin/secustream --help >/dev/null \
 && /opt/venv/bin/python -c "from secustream.analyzer.sigma import engine; assert engine.NATIVE_PREFILTER, 'C loops not built'" \
 && /opt/venv/bin/python -c "from secustream import native; assert native.NATIVE, 'secustream._native not built'"

FROM ${BASE_IMAGE} AS runtime
ARG APP_UID=10001
LABEL org.opencontainers.image.title="secustream" \
      org.opencontainers.image.description="SecuStreamAI generator, analyzer, API, training" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid ${APP_UID} secustream \
 && useradd --system --uid ${APP_UID} --gid ${APP_UID} --home-dir /app --shell /usr/sbin/nologin secustream \
 && mkdir -p /app /models /rules && chown ${APP_UID}:${APP_UID} /app /models /rules
COPY --from=builder /opt/python /opt/python
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/app \
    MODEL_DIR=/models \
    HF_HOME=/tmp/hf \
    PROMETHEUS_PORT=9100 \
    API_PORT=8080
WORKDIR /app
USER ${APP_UID}:${APP_UID}
EXPOSE 8080 9100
ENTRYPOINT ["secustream"]
CMD ["--help"]
