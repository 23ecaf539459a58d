# syntax=docker/dockerfile:1
# The Keysafe container image: one `keysafe` binary for the server, the sidecar agent and the injector.
#
#   docker build -t keysafe:dev .
#   docker run --rm keysafe:dev help
#   docker run --rm --read-only -p 8270:8270 -v keysafe-data:/data keysafe:dev \
#     server --listen 0.0.0.0:8270 --data-dir /data --insecure-plaintext-non-loopback
#
# Base: Debian slim with the official Node build. glibc, because better-sqlite3 (the default store)
# ships prebuilt binaries for linux glibc x64 and arm64 on Node 20 and 22, so no compiler is needed in
# any stage (Alpine's musl would need a source build when a prebuild is missing). Node 22 is the LTS
# line in use; `--build-arg NODE_VERSION=20` builds on Node 20 (20.19+ is supported). The Debian
# release is pinned so a base update never changes the C library under the native module unseen.
#
# Size: about 260 MB unpacked (≈ 85 MB compressed to pull): ~75 MB Debian slim, ~120 MB the node
# binary, ~60 MB production node_modules (27 MB of it better-sqlite3, which carries SQLite's sources),
# 2 MB dist/. npm, npx, corepack and yarn are removed from the final stage: nothing runs them there,
# and they are 25 MB and a tool an intruder could use.
#
# Runtime contract (what Kubernetes manifests rely on, see examples/kubernetes/):
# - runs as UID/GID 10001 (numeric, so `runAsNonRoot: true` can verify it without a passwd lookup);
# - never writes to the image: works with `readOnlyRootFilesystem: true`; the data directory is the
#   /data volume (the working directory, so the default ./keysafe-data lands there too);
# - no HEALTHCHECK: Kubernetes probes GET /healthz and /readyz (server) and /readyz (agent).

ARG NODE_VERSION=22
ARG DEBIAN_RELEASE=bookworm

# 1. build: every dependency (TypeScript), then src/ compiled to dist/.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. deps: production dependencies only, installed from the lockfile (cached until it changes).
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. runtime: node, production node_modules, dist/, the entrypoint. Files are owned by root and not
# writable by the runtime user.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS runtime
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && groupadd --system --gid 10001 keysafe \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin keysafe \
 && mkdir /data && chown 10001:10001 /data && chmod 0700 /data
ENV NODE_ENV=production \
    PATH=/app/bin:$PATH
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json: `keysafe terraform install` reads the version from it.
COPY package.json ./
COPY --chmod=0555 docker/keysafe ./bin/keysafe
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8270
ENTRYPOINT ["keysafe"]
CMD ["help"]
