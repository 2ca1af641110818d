# One image for every component: `trellis <component>` picks which one a container runs (docker-compose.yml).
FROM node:24-bookworm-slim
WORKDIR /app
# better-sqlite3 and argon2 build or fetch native modules at install.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ curl && rm -rf /var/lib/apt/lists/*
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
RUN npm ci --omit=dev --workspaces --include-workspace-root
COPY . .
ENV NODE_ENV=development TRELLIS_DATA_DIR=/data
VOLUME /data
ENTRYPOINT ["node", "cli/bin/trellis.js"]
