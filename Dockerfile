# scopegate: multi-stage image. Build with dev dependencies, run with production ones only,
# as the unprivileged `node` user. See README "Operator's guide".
#
#   docker build -t scopegate .
#   docker run --rm -p 4000:4000 --env-file scopegate.env scopegate

# Node 20 is what the test suite runs on (package.json "engines": >=20.11).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are not needed to compile (tsc only) and are not run.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json schema.graphql ./
COPY src ./src
COPY resolvers ./resolvers
COPY directives ./directives
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# schema.graphql is read at start; demo/ holds the embedded forge's seed for `serve --demo`.
COPY schema.graphql ./
COPY demo ./demo
COPY bin ./bin
USER node
EXPOSE 4000
# `serve` drains in-flight requests on SIGTERM (SCOPEGATE_SHUTDOWN_GRACE_MS, default 10 s):
# give the container runtime's stop timeout a few seconds more than that.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/cli/main.js", "serve"]
