#!/usr/bin/env bash
# npm run test:sanitize — the native code under sanitizers:
#  1. the addon built with ASan+UBSan, running the engine and batcher test files inside node (node
#     itself is not instrumented, so the runtime is preloaded);
#  2. the same addon under LeakSanitizer through a load/infer/abort/unload workload: node and ORT
#     keep some memory until exit, so only leaks with a frame in the addon fail the run;
#  3. the standalone scheduler/queue test built with TSan (node cannot run under TSan);
#  4. the same standalone test with ASan+UBSan+LSan, leak detection on.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX:-g++}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

echo "== 1/4 addon with ASan+UBSan under vitest"
node scripts/install-native.mjs --force --out build-asan --CDTENSORGATE_SANITIZE=address,undefined --CDCMAKE_BUILD_TYPE=RelWithDebInfo
LD_PRELOAD="$($CXX -print-file-name=libasan.so):$($CXX -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
TENSORGATE_ADDON=build-asan/Release/tensorgate.node \
  npx vitest run test/batcher.test.ts test/batcher-workers.test.ts test/engine-basic.test.ts test/engine-errors.test.ts test/engine-datatypes.test.ts test/engine-workers.test.ts

echo "== 2/4 addon leaks (LeakSanitizer)"
leaks=$(mktemp)
LD_PRELOAD="$($CXX -print-file-name=libasan.so):$($CXX -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=1:exitcode=0 TENSORGATE_ADDON=build-asan/Release/tensorgate.node \
  node --import tsx scripts/leak-check.mts 2>"$leaks"
ours=$(awk '/(Direct|Indirect) leak/{b=$0; on=1; next} on && /^$/{if (b ~ /native\/|tensorgate\.node/) print b; on=0; next} on{b=b"\n"$0}' "$leaks")
if [ -n "$ours" ]; then
  printf '%s\n' "$ours"
  echo "leaks in the addon (full report: $leaks)"
  exit 1
fi
echo "no leak with a frame in the addon ($(grep -c 'leak of' "$leaks" || true) reports elsewhere: node and ORT at exit)"

native_test() {  # $1 build dir, $2 sanitizers
  cmake -S . -B "$1" -DTENSORGATE_NATIVE_TESTS=ON -DTENSORGATE_SANITIZE="$2" -DTENSORGATE_CUDA=OFF \
    -DORT_INCLUDE_DIR="$(node scripts/fetch-ort-headers.mjs)" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$1" --target scheduler_test
  (cd "$1" && ctest --output-on-failure)
}

echo "== 3/4 scheduler and queue under TSan"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 native_test build-tsan thread

echo "== 4/4 scheduler and queue under ASan+UBSan with LeakSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 native_test build-lsan address,undefined
echo "sanitizers: clean"
