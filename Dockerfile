# syntax=docker/dockerfile:1
# tensorgate, CPU image. Build: docker build -t tensorgate:0.1.0 .
# Run:   docker run --rm -p 8000:8000 -p 8001:8001 -v "$PWD/models:/models:ro" tensorgate:0.1.0
# The final stage holds Node, the compiled addon, ONNX Runtime's library and the runtime packages
# (scripts/image/stage.mjs decides which): no compiler, no npm cache, no dev dependencies.
ARG NODE_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++ cmake make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json CMakeLists.txt tsconfig.json tsconfig.build.json ./
COPY packages/ packages/
COPY scripts/ scripts/
COPY native/ native/
COPY proto/ proto/
COPY src/ src/
# npm ci compiles the addon from source (ONNX Runtime's headers come from Debian's libonnxruntime-dev)
# and the TypeScript (the prepare script); the stage script then picks the runtime files.
ENV TENSORGATE_BUILD_FROM_SOURCE=1
RUN npm ci --no-audit --no-fund \
 && node scripts/image/stage.mjs /app

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
RUN groupadd --gid 10001 tensorgate \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin tensorgate
COPY --from=build /app /app
WORKDIR /app
# The model repository is a mount (a volume, a Kubernetes PersistentVolume): nothing is baked in.
USER 10001:10001
# HTTP (KServe v2, /metrics) and gRPC (Triton's GRPCInferenceService).
EXPOSE 8000 8001
# Node is PID 1 and handles SIGTERM itself: readiness off, in-flight requests finished within
# --shutdown-timeout (default 30 s), then exit 0.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8000/v2/health/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--model-repository=/models", "--host=0.0.0.0"]
