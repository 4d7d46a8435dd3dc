# sdata-sync as a container batch job:
#   docker build -t sdata-sync .
#   docker run --rm -e SDATA_SOURCE_TOKEN -e SDATA_TARGET_TOKEN sdata-sync run --source URL --target URL --kind accounts
#   docker run --rm -i sdata-sync plan --digest /dev/fd/3 3<digest.xml < source.xml > target.xml
# Every step below is replayed outside Docker by scripts/check-dockerfile.ts (part of npm test).
FROM node:24-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Runtime dependencies only: the base image brings Node 24, which runs our TypeScript sources directly. --omit=optional
# too: valibot names typescript as an optional peer, which our lockfile (where typescript is a dev dependency) would
# otherwise install (23 MiB); no runtime dependency of ours has optional dependencies.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY src ./src

# Compile once, at build time: with a cold compile cache every thread that loads our .ts files also loads Node's
# TypeScript stripper (~15 MiB RSS each). A short demo goes through the engine and two providers; serve, started
# until it answers, through its own thread; plan on a generated feed large enough to start its helper thread.
ENV NODE_COMPILE_CACHE=/app/.cache/node-compile
RUN node --max-semi-space-size=8 --max-old-space-size=64 /app/bin/sdata-sync.mjs demo --count 1000 --progress none > /dev/null && (node /app/bin/sdata-sync.mjs serve --db /tmp/warm.db --port 0 > /tmp/warm.out & pid=$!; i=0; while [ $i -lt 100 ] && ! grep -q http /tmp/warm.out; do sleep 0.1; i=$((i+1)); done; kill -TERM $pid; wait $pid) && node /app/bin/sdata-sync.mjs gen 3000 | node /app/bin/sdata-sync.mjs plan > /dev/null 2>&1 && rm -f /tmp/warm.* && chown -R node:node /app/.cache

# Provider stores and chunk spools go here when run as a job; mount a volume to keep them. So does the engine's
# state directory (README "State directory"): a killed run's journal must outlive its container.
RUN mkdir -p /data && chown node:node /data
ENV XDG_STATE_HOME=/data/state
VOLUME ["/data"]
USER node

ENTRYPOINT ["node", "--max-semi-space-size=8", "--max-old-space-size=64", "/app/bin/sdata-sync.mjs"]
CMD ["--help"]
