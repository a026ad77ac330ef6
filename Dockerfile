# syntax=docker/dockerfile:1
# Tollgate in a container (docs/deploy.md): `tollgate serve` on the embedded defaults, its state in the
# /app/data volume. The build stage compiles better-sqlite3 and builds dist/; the runtime stage takes the
# result with production dependencies only and runs node itself as PID 1, so SIGTERM reaches the server.
# test/integration/dockerfile.test.ts runs this file's CMD and HEALTHCHECK against the checkout.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG SOURCE_DATE_EPOCH=315532800
# better-sqlite3 compiles its addon when no prebuilt one matches.
RUN apt-get update \
	&& apt-get install --yes --no-install-recommends python3 make g++ \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies in a layer of their own. Only the install scripts the build needs run (package.json
# allowScripts); the prepare script would build before the sources are here.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 esbuild
COPY . .
# bin/build.js records each source's mtime and rebuilds when one differs, and image layers may keep whole
# seconds only: the sources get one whole-second mtime before the build records them.
RUN find . -path ./node_modules -prune -o -exec touch --no-dereference --date="@${SOURCE_DATE_EPOCH}" {} + \
	&& node bin/build.js \
	&& npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV TOLLGATE_DATA_DIR=/app/data
# All interfaces inside the container: publishing the port (`-p 8080:8080`) decides who reaches it.
ENV TOLLGATE_HTTP_HOST=0.0.0.0
ENV TOLLGATE_HTTP_PORT=8080
RUN groupadd --system --gid 10001 tollgate \
	&& useradd --system --uid 10001 --gid tollgate --home-dir /app --no-create-home \
		--shell /usr/sbin/nologin tollgate
WORKDIR /app
# Owned by root, so the service cannot change its own code; the data directory alone is its own.
COPY --from=build /app ./
RUN mkdir -p /app/data && chown tollgate:tollgate /app/data
# A numeric user, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# bin/tollgate.js rebuilds dist/ when a source is newer than the build; the runtime stage has no build
# tools, so fail here rather than at start should the copy not have kept the build current.
RUN node bin/tollgate.js --help > /dev/null
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
	CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TOLLGATE_HTTP_PORT || 8080) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
# node itself, never npm: npm does not pass SIGTERM on, and the server would be killed mid-request.
CMD ["node", "bin/tollgate.js", "serve"]
