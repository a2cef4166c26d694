# redishappy in a container. Not built in CI (no Docker engine runs there); documented in docs/operations.md.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/build.mjs /out

FROM node:20-bookworm-slim
RUN useradd --system --home /nonexistent --shell /usr/sbin/nologin redishappy
COPY --from=build /out /usr/lib/redishappy
RUN printf 'const { main } = await import("/usr/lib/redishappy/redishappy.js");\nawait main(process.env.REDISHAPPY_FLAVOUR ?? "auto");\n' > /usr/lib/redishappy/start.mjs
USER redishappy
ENV PORT=8000
# One malloc arena: the resident size follows the V8 heap instead of creeping up (bench/README.md, "Soak").
ENV MALLOC_ARENA_MAX=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/api/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The V8 flag of the packages' launchers: a 1 MB young generation (memory), and the flags the
# build's code cache was made with (start-up).
ENTRYPOINT ["node", "--max-semi-space-size=1", "/usr/lib/redishappy/start.mjs"]
CMD ["-config", "/etc/redishappy/config.json"]
