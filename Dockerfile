# The bot as an image: Node 24 (the official slim image, so nothing is downloaded at run time), production
# dependencies only, a non-root user, the embedded store in the /data volume (or DATABASE_URL), and a
# HEALTHCHECK on /healthz. Configure it with the environment (docs/configuration.md); a bad setting ends the
# container at once with one line per problem (exit 78).
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bot ./bot
COPY common ./common
COPY app.yml LICENSE ./
RUN mkdir /data && chown node:node /data
USER node
# Node's compile cache in the volume (docs/configuration.md): a restart is about twice as fast as the first start.
ENV PORT=3000 DATA_DIR=/data NODE_COMPILE_CACHE=/data/compile-cache
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node itself, not `npm start`: signals reach the bot (SIGTERM hands running deployments over), and no
# wrapper script looks for another Node.
CMD ["node", "bot/server.ts"]
