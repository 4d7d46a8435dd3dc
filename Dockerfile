# sdata-sync as a container batch job:
#   docker build -t sdata-sync .
#   docker run --rm -e SDATA_SOURCE_TOKEN -e SDATA_TARGET_TOKEN sdata-sync run --source URL --target URL --kind accounts
#   docker run --rm -i sdata-sync plan --digest /dev/fd/3 3<digest.xml < source.xml > target.xml
# Every step below is replayed outside Docker by scripts/check-dockerfile.ts (part of npm test).
FROM node:24-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Runtime dependencies only: the base image brings Node 24, which runs our TypeScript sources directly.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY src ./src

# Provider stores and chunk spools go here when run as a job; mount a volume to keep them.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

ENTRYPOINT ["node", "--max-semi-space-size=8", "--max-old-space-size=64", "/app/bin/sdata-sync.mjs"]
CMD ["--help"]
