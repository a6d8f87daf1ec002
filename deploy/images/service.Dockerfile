# syntax=docker/dockerfile:1
# One image per aevo service, built from the repository root:
#   docker build -f deploy/images/service.Dockerfile --build-arg SERVICE=worker -t aevo-worker:0.1.0 .
#   (leaderboard: add --build-arg RUNTIME_APT_PACKAGES=python3: it runs the substrate's generate/score commands itself)
# Stages: build (npm ci + Nx builds the service and the libraries it depends on), prune (tools/prune-service.mjs copies
# only that service's and its libraries' dist/ and writes a lockfile cut down to their production packages; npm ci
# --omit=dev installs exactly those), runtime (node:20 slim, tini as PID 1, a fixed non-root uid, nothing writable).
# test/deploy/prune-and-start.spec.ts runs the prune and install steps for every service and starts each from the
# result, so what this image would lack fails that test.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<one of services/*>" >&2; exit 1; }
# Builds the service and, through the build target's dependsOn ^build, every workspace library it imports.
RUN npx nx run "@aevo/${SERVICE}:build" --outputStyle=static

FROM build AS prune
ARG SERVICE
RUN node tools/prune-service.mjs "${SERVICE}" /out \
 && cd /out \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ARG RUNTIME_APT_PACKAGES=""
# tini reaps zombies and forwards SIGTERM to node (node as PID 1 ignores signals it installs no handler for).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ${RUNTIME_APT_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 aevo \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin aevo
WORKDIR /app
# Owned by root and not writable by the service: the pod also mounts the root file system read-only. State lives in
# PostgreSQL and on the AEVO_HOME volume; scratch space is the /tmp emptyDir the manifests mount.
COPY --from=prune --chown=root:root /out /app
ENV NODE_ENV=production \
    AEVO_SERVICE=${SERVICE} \
    AEVO_ROOT=/app \
    HOME=/tmp \
    NO_COLOR=1
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
# exec: sh hands PID 2 to node, so tini's SIGTERM reaches node directly.
CMD ["sh", "-c", "exec node \"services/${AEVO_SERVICE}/dist/main.js\""]
