#!/usr/bin/env bash
# Builds the CPU image without a Docker engine or a registry: a Debian bookworm root made by
# debootstrap (the same distribution as the Dockerfile's node:20-bookworm-slim), this machine's Node
# binary at /usr/local/bin/node (where the node images keep it), the user 10001 and the files
# scripts/image/stage.mjs picks (what the Dockerfile's final stage copies); buildah commits that root
# as an OCI image with the Dockerfile's user, ports, entry point and command. Then it smoke-tests the
# root: `tensorgate serve` inside it (chroot, as user 10001) answers an inference, and the cold start
# (process start -> READY, -> first answer) is measured there.
#
# Usage: scripts/image/build-offline.sh [WORKDIR]   (default .image-build/; needs root, debootstrap,
# buildah, a built tree: npm run build:ts and the addon in build/Release)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(realpath -m "${1:-.image-build}")
ROOTFS=$WORK/rootfs
TAG=tensorgate:$(node -p "require('./package.json').version")
log() { printf '\n== %s\n' "$*"; }

for tool in debootstrap buildah chroot curl; do
  command -v "$tool" >/dev/null || { echo "build-offline: $tool is needed (apt-get install -y debootstrap buildah)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "build-offline: run as root (debootstrap and chroot need it)" >&2; exit 1; }

# The Debian mirror apt already uses on this machine (no host name is written here).
mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  [ -n "$uri" ] || { echo "build-offline: no Debian mirror in /etc/apt" >&2; exit 1; }
  echo "$uri"
}

mkdir -p "$WORK"
if [ ! -x "$ROOTFS/usr/bin/apt-get" ]; then
  log "debootstrap bookworm (minbase) into $ROOTFS"
  start=$(date +%s)
  debootstrap --variant=minbase bookworm "$ROOTFS" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  echo "debootstrap: $(( $(date +%s) - start )) s"
fi

log "Node, user 10001 and the staged runtime"
install -m 0755 "$(command -v node)" "$ROOTFS/usr/local/bin/node"
chroot "$ROOTFS" sh -c 'getent group 10001 >/dev/null || groupadd --gid 10001 tensorgate;
  getent passwd 10001 >/dev/null || useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin tensorgate'
node scripts/image/stage.mjs "$ROOTFS/app"
# What a slim image leaves out: apt lists, caches, documentation.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*
rm -rf "$ROOTFS/models" && mkdir "$ROOTFS/models"   # a mount point: no model is baked in
echo "root filesystem: $(du -sh "$ROOTFS" | cut -f1) (app: $(du -sh "$ROOTFS/app" | cut -f1))"

log "buildah: commit $TAG"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --quiet "$ctr" "$ROOTFS" / >/dev/null
buildah config \
  --user 10001:10001 --workingdir /app --env NODE_ENV=production \
  --port 8000 --port 8001 \
  --entrypoint '["node", "/app/dist/cli/main.js"]' \
  --cmd 'serve --model-repository=/models --host=0.0.0.0' \
  --label org.opencontainers.image.title=tensorgate "$ctr"
buildah commit --quiet "$ctr" "$TAG" >/dev/null
rm -f "$WORK/tensorgate.oci.tar"
buildah push --quiet "$TAG" "oci-archive:$WORK/tensorgate.oci.tar:$TAG"
buildah inspect --type image --format '{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.Cmd}} {{.OCIv1.Config.ExposedPorts}}' "$TAG"
echo "image: $WORK/tensorgate.oci.tar ($(du -h "$WORK/tensorgate.oci.tar" | cut -f1))"

log "smoke test: tensorgate serve inside the root (chroot, user 10001), example repository at /models"
[ -f examples/models/tiny/1/model.onnx ] || node dist/tools/make-example-models.js examples/models >/dev/null
rm -rf "$ROOTFS/models" && cp -r examples/models "$ROOTFS/models"
npx tsx bench/cold-start.ts --runs "${COLD_START_RUNS:-5}" --json "$WORK/cold-start.json" -- \
  chroot --userspec=10001:10001 "$ROOTFS" /usr/local/bin/node /app/dist/cli/main.js
log "buildah run: the committed image serves (its user, the example repository mounted at /models)"
run=$(buildah from "$TAG")
trap 'buildah rm "$ctr" "$run" >/dev/null 2>&1 || true' EXIT
PORT=${SMOKE_PORT:-18080}
grpc=(); node dist/cli/main.js serve --help | grep -q -- --grpc-port && grpc=(--grpc-port=0)
# chroot isolation shares the host's network: the server is reachable on loopback.
buildah run --isolation chroot -v "$ROOT/examples/models:/models:ro" "$run" -- \
  node /app/dist/cli/main.js serve --model-repository=/models --host=127.0.0.1 --http-port="$PORT" "${grpc[@]}" --log-level=warn &
server=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break; sleep 0.1; done
answer=$(curl -sf -X POST "http://127.0.0.1:$PORT/v2/models/tiny/infer" \
  -d '{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","data":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}]}')
echo "$answer"
echo "$answer" | grep -q '"data":\[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\]' || { echo "smoke test: wrong or no answer" >&2; kill "$server"; exit 1; }
# SIGTERM to the server itself (the node process inside, found by its own command line).
inside=$(pgrep -n -u 10001 -f -- "/app/dist/cli/main.js serve .*--http-port=$PORT" || true)
[ -n "$inside" ] && kill -TERM "$inside"
wait "$server" && echo "buildah run: answered, and exited 0 on SIGTERM"
