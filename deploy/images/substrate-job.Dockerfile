# syntax=docker/dockerfile:1
# The image of the reference substrates' training and evaluation Jobs (AEVO_K8S_IMAGE), built from the repository root:
#   docker build -f deploy/images/substrate-job.Dockerfile -t aevo-substrate:0.1.0 .
# A Job runs a substrate entrypoint (substrate/*/substrate.yaml) with its working directory in a sandbox on the
# shared AEVO_HOME volume, so the image holds runtimes only, no substrate code:
#   wonderland: Debian's /usr/bin/python3 with torch (python3-torch, libopenblas0-pthread for its BLAS), yaml;
#   simulated:  node (Debian's nodejs; its bin/*.mjs use only node's standard library).
# CUDA: Debian's python3-torch is a CPU build; a GPU cluster builds from a CUDA base with a CUDA torch instead, keeping
# the same user and paths.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-torch libopenblas0-pthread python3-yaml nodejs ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Dispatch runs every Job pod as uid/gid 65534 (libs/executors JOB_UID/JOB_GID; AEVO_K8S_JOB_UID overrides) with a
# read-only root file system and a private /tmp emptyDir: the image's user matches, and every cache goes to /tmp.
ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/tmp/torch \
    MPLCONFIGDIR=/tmp
USER 65534:65534
WORKDIR /tmp
