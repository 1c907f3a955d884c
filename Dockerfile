# Production image. Node 24 runs the TypeScript sources directly (type stripping): no build step.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
RUN mkdir -p logs && chown node:node logs
USER node
EXPOSE 8004
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8004)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# Heap settings for the container's memory limit (or MEMORY_LIMIT_MB): src/node-flags.ts prints
# them (why, and what they cost: src/runtime/memory-budget.ts). exec: node replaces the shell and gets SIGTERM.
CMD ["sh", "-c", "exec node $(node src/node-flags.ts) src/main.ts"]
