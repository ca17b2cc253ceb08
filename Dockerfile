# syntax=docker/dockerfile:1
# Allmende: `allmende serve` by default; `allmende agent ...` and `allmende db upgrade` from the same image.
#
# Base: python:3.11.11-slim-bookworm, digest (multi-arch index) as pinned by public Dockerfiles that use this tag:
# sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5
# No registry is reachable from the development machines, so it is unverified here: check it at the first build
# (`docker buildx imagetools inspect python:3.11.11-slim-bookworm`) and build with
# --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:... to pin it.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/allmende
COPY pyproject.toml README.md ./
COPY solver solver
COPY scheduler scheduler
COPY simulations simulations
# The service and the Kubernetes client (KubeRay executor, cluster agent); Ray and the simulation extras stay out.
RUN /opt/allmende/bin/pip install --no-cache-dir ".[service,k8s]"

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="allmende" \
      org.opencontainers.image.description="Fair, transparent, energy-capped allocation of public GPU capacity" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/allmende/allmende" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.11-slim-bookworm"
RUN groupadd --system --gid 10001 allmende \
    && useradd --system --uid 10001 --gid allmende --home-dir /data --no-create-home allmende \
    && mkdir /data && chown allmende:allmende /data
COPY --from=build /opt/allmende /opt/allmende
ENV PATH=/opt/allmende/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALLMENDE_HOST=0.0.0.0 \
    ALLMENDE_DATABASE_URL=sqlite:////data/allmende.db \
    ALLMENDE_METRICS_PORT=9464
WORKDIR /data
USER 10001:10001
EXPOSE 50051 50052 9464
# The gRPC health service, plaintext on the main port; with TLS on, the Helm chart probes with an exec probe over TLS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; ch = grpc.insecure_channel('127.0.0.1:50051'); sys.exit(g.HealthStub(ch).Check(h.HealthCheckRequest(), timeout=4).status != h.HealthCheckResponse.SERVING)"]
ENTRYPOINT ["allmende"]
CMD ["serve"]
