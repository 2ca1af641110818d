# syntax=docker/dockerfile:1
# One image for every component: `trellis <component>` picks which one a container runs (docker-compose.yml).
# Two stages: `build` compiles the workspace and packs the published packages as `npm publish` would; the runtime stage
# installs only those tarballs with their production dependencies, so the image carries neither TypeScript, the test
# tools and the repository's sources, nor a compiler (better-sqlite3 13, @node-rs/argon2 and esbuild ship prebuilt
# binaries: installing the tarballs with --omit=dev runs no node-gyp).

FROM node:24-bookworm-slim AS build
WORKDIR /src
# The manifests first, so the npm ci layer is reused until a package.json or the lock file changes.
COPY package.json package-lock.json ./
COPY kit/package.json kit/
COPY clients/package.json clients/
COPY registry/package.json registry/
COPY config-server/package.json config-server/
COPY auth-server/package.json auth-server/
COPY gateway/package.json gateway/
COPY examples/package.json examples/
COPY bench/package.json bench/
COPY cli/package.json cli/
# --ignore-scripts: from the lock file npm would run node-gyp for better-sqlite3 (its binding.gyp), which needs a compiler
# this image has not; nothing here runs it (tsc builds), and the runtime stage takes its prebuilt binary.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# Builds with tsc and writes the 8 published packages' tarballs into /packs.
RUN node tools/pack.mjs /packs

FROM node:24-bookworm-slim
# production: the registry refuses to start open to writes or with the trellis-dev-only credentials, the auth server
# refuses to seed development clients, `trellis up` refuses the development ENCRYPT_KEY. The image used to say
# development because docker-compose.yml runs on exactly those credentials; that file now asks for development
# itself (NODE_ENV in its services), so the image run anywhere else starts safe. Nothing else reads NODE_ENV at run
# time (the local CA and TLS defaults do not depend on it).
ENV NODE_ENV=production TRELLIS_DATA_DIR=/data
WORKDIR /app
# The tarballs come in through a bind mount, never into a layer, and npm's cache goes in the same step: this layer is
# node_modules alone. It stays root's, read-only to the node user that runs the components; /data is the node user's,
# and a named volume first mounted there takes that ownership.
RUN --mount=type=bind,from=build,source=/packs,target=/packs \
  npm install --omit=dev --no-audit --no-fund /packs/*.tgz \
  && npm cache clean --force \
  && rm -rf /root/.npm \
  && mkdir /data \
  && chown node:node /data
# The native backend's configuration and the gateway's routes (CONFIG_REPO, GATEWAY_ROUTES_FILE in docker-compose.yml).
COPY config-repo /app/config-repo
USER node
VOLUME /data
# `trellis health` finds the component this container runs on process 1's command line and asks its liveness probe on
# the port that component reads (its flag, its variable, its default), over TLS where it serves HTTPS.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "/app/node_modules/@trellis/cli/bin/trellis.js", "health"]
ENTRYPOINT ["node", "/app/node_modules/@trellis/cli/bin/trellis.js"]
