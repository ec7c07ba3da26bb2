# Banter: one image for both processes.
#   bot:    docker run ... banter python -m bot
#   worker: docker run ... banter python -m seq2seq serve --models /app/models --host 0.0.0.0 --port 8500
# docker-compose.yml runs the two as services; README.md "Docker" explains the settings.
#
# Build arguments:
#   TENSORFLOW  the TensorFlow distribution (default tensorflow-cpu; the GPU profile uses tensorflow[and-cuda])
#   EXTRAS      optional dependency groups beside "model" (pyproject.toml): the GPU profile sets "cuda", the
#               CUDA libraries the reply engine (CTranslate2) needs on a GPU, as PyPI wheels. No CUDA base image:
#               the host's driver (libcuda) comes in through the NVIDIA Container Toolkit.
#   PRESET      unset: ship models/default from the checkout. tiny|default|large: train that v2 preset
#               during the build instead (default takes hours on a CPU).
#   TRAIN_ARGS  extra flags for that training, e.g. "--max-steps 2000" or "--limit 20000"
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLCONFIGDIR=/tmp/matplotlib \
    KERAS_HOME=/tmp/keras \
    BANTER_HEARTBEAT_FILE=/tmp/banter-heartbeat

# The non-root user everything runs as (uid 10001: clear of the usual host users).
RUN groupadd --gid 10001 banter \
 && useradd --uid 10001 --gid banter --home-dir /app --no-create-home --shell /usr/sbin/nologin banter

# 1. Dependencies, from pyproject.toml alone: a source change does not reinstall TensorFlow. Never used here:
#    tensorflow/include, C++ headers for building custom ops (about 290 MB); libclang (62 MB), which TensorFlow
#    lists for generating its own API; tensorboard-data-server (20 MB), the TensorBoard UI's loader.
#    CTranslate2 (4.x: CUDA 12, cuBLAS only, no cuDNN) dlopens libcublas.so.12; the nvidia-* wheels put their
#    libraries in site-packages/nvidia/*/lib, which ld.so.conf.d then names, so every process finds them.
ARG TENSORFLOW=tensorflow-cpu
ARG EXTRAS=
COPY pyproject.toml docker/requirements.py /tmp/build/
RUN python -m venv "$VIRTUAL_ENV" \
 && python /tmp/build/requirements.py /tmp/build/pyproject.toml --extra "model,$EXTRAS" --tensorflow "$TENSORFLOW" \
      > /tmp/build/requirements.txt \
 && pip install -r /tmp/build/requirements.txt \
 && pip uninstall -q -y libclang tensorboard-data-server \
 && rm -rf "$VIRTUAL_ENV"/lib/python3*/site-packages/tensorflow/include /tmp/build \
 && if [ -d "$VIRTUAL_ENV"/lib/python3*/site-packages/nvidia ]; then \
      ls -d "$VIRTUAL_ENV"/lib/python3*/site-packages/nvidia/*/lib > /etc/ld.so.conf.d/banter-cuda.conf && ldconfig; \
    fi

# 2. The model package, then the shipped model: bot-side changes leave this layer cached.
WORKDIR /app
COPY seq2seq/ /app/seq2seq/
# `model[s]` is a glob so that a checkout without models/ still builds when PRESET is set; .dockerignore
# lets only models/default/ through, and a glob copies the directory's contents: /tmp/shipped/default/.
COPY config.toml model[s] /tmp/shipped/
ARG PRESET=
ARG TRAIN_ARGS=
RUN set -eu; mkdir -p /app/models-shipped; \
    if [ -n "$PRESET" ]; then \
      echo "training preset $PRESET $TRAIN_ARGS (PRESET is set: models/default from the checkout is not used)"; \
      python -m seq2seq train --preset "$PRESET" $TRAIN_ARGS --quiet \
        --out /app/models-shipped/default --run-dir /tmp/train-run; \
    elif [ -f /tmp/shipped/default/transformer.json ]; then \
      mv /tmp/shipped/default /app/models-shipped/default; \
    else \
      echo "error: models/default/ in this checkout is not a v2 model (no transformer.json). Train it first" \
           "(python -m seq2seq train --out models/default), or build with --build-arg PRESET=tiny" >&2; \
      exit 1; \
    fi; \
    rm -rf /tmp/shipped /tmp/train-run; \
    ls -l /app/models-shipped/default

# 3. The rest of the source. The package runs from /app (PYTHONPATH), as from a checkout: Alembic's
#    migrations/ and config.toml are found beside it.
COPY alembic.ini config.toml pyproject.toml /app/
COPY migrations/ /app/migrations/
COPY bot/ /app/bot/
COPY docker/entrypoint.sh docker/healthcheck.py docker/gpu_check.py /app/docker/
# /app/data (database) and /app/models (model versions) are volumes: created here owned by banter,
# so a new named volume starts with that owner. The entrypoint seeds models from /app/models-shipped.
RUN python -m compileall -q /app/bot /app/seq2seq /app/migrations \
 && chmod 0755 /app/docker/entrypoint.sh \
 && mkdir -p /app/data /app/models \
 && chown banter:banter /app/data /app/models

USER banter
VOLUME ["/app/data", "/app/models"]
EXPOSE 8500

# The worker is healthy when /readyz says a model is loaded; the bot while its process runs (see the script).
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["python", "-m", "bot"]
