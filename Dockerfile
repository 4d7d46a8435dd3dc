# syntax=docker/dockerfile:1
# sdata-sync: the engine (run, plan, pull, push, digest) and the reference provider (serve) in one image.
#   docker build -t sdata-sync .
#   docker run --rm --read-only -e SDATA_SOURCE_TOKEN -e SDATA_TARGET_TOKEN sdata-sync run --source URL --target URL --kind accounts
#   docker run -d --read-only -p 8080:8080 -v hub:/data -e SDATA_SERVE_TOKEN sdata-sync serve --db /data/hub.db --host 0.0.0.0
#   sdata-sync gen 1000 | docker run --rm -i --read-only sdata-sync plan > target.xml
# There is no Docker engine where the tests run: scripts/check-dockerfile.ts (npm test) replays every instruction,
# then runs the image's entrypoint, HEALTHCHECK, serve, run and plan from the result with a read-only root.

# Node 24 LTS on Debian 12, the Node images' default Debian for 24; the same 24.x as the runtime the tests pin
# (package-lock.json, devDependency "node"; the replay checks they agree). Add @sha256:… for reproducible builds.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Every dependency, without install scripts: the build needs typescript and @types/node (the "node" devDependency's
# script would only fetch a second Node 24). The npm cache is a cache mount: it never lands in a layer.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="sdata-sync" \
      org.opencontainers.image.description="Streaming SData 1.1 synchronization: sync engine, pipe tools and a reference SQLite provider" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/sdata-sync/sdata-sync" \
      org.opencontainers.image.url="https://github.com/sdata-sync/sdata-sync" \
      org.opencontainers.image.documentation="https://github.com/sdata-sync/sdata-sync#running-as-a-container" \
      org.opencontainers.image.base.name="docker.io/library/node:24.21.0-bookworm-slim"
# No compile cache: with compiled JS it saved nothing measurable (plan of 100 entries: 160 ms and 73.0 MiB peak
# with a warm one, 150 ms and 72.6 MiB without), and the root is meant to be read-only.
# MALLOC_ARENA_MAX: what the bin starts every command with (src/cli/heap-flags.ts), here so that the HEALTHCHECK,
# which gives node its flags itself, needs no restart for it.
ENV NODE_ENV=production \
    NODE_DISABLE_COMPILE_CACHE=1 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json LICENSE ./
# --omit=optional too: valibot names typescript as an optional peer, which our lockfile (where typescript is a dev
# dependency) would otherwise install (23 MiB); no runtime dependency of ours has optional dependencies.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY --from=build /src/dist ./dist

# Everything a container writes goes here (provider stores, --spool-dir, --report, the engine's state directory):
# mount a volume. The rest of the image can be read-only (docker run --read-only): no command writes elsewhere unless
# told to (README). The state directory (README "State directory") holds the journal of a run's open contexts: a
# killed run's journal must outlive its container for the next run to DELETE them.
RUN mkdir -p /data && chown node:node /data
ENV XDG_STATE_HOME=/data/state
VOLUME ["/data"]
USER node
EXPOSE 8080
# For `serve` on the default port and store names (app hub, contract crm); another serve overrides it
# (docker run --health-cmd, or healthcheck: in compose/k8s). --auth serve: the first of SDATA_SERVE_TOKEN's tokens,
# when set (serve on 0.0.0.0 needs one, and then $health too).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=64", "/app/bin/sdata-sync.mjs", "health", "--auth", "serve", "http://127.0.0.1:8080/sdata/hub/crm/-/$health"]
# No heap flags here: the bin starts itself again, in place (process.execve: same PID 1), with the bounds and the
# environment of the command it runs (src/cli/heap-flags.ts: verify's differ from the rest). Exec form: node is
# PID 1 and receives docker stop's SIGTERM itself.
ENTRYPOINT ["node", "/app/bin/sdata-sync.mjs"]
CMD ["--help"]
