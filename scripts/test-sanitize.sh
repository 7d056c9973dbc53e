#!/usr/bin/env bash
# npm run test:sanitize — the native code under sanitizers:
#  1. the addon built with ASan+UBSan, running the engine and batcher test files inside node (node
#     itself is not instrumented, so the runtime is preloaded; leaks are checked in step 3);
#  2. the standalone scheduler/queue test built with TSan (node cannot run under TSan);
#  3. the same standalone test with ASan+UBSan+LSan, leak detection on.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX:-g++}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

echo "== 1/3 addon with ASan+UBSan under vitest"
node scripts/install-native.mjs --force --out build-asan --CDTENSORGATE_SANITIZE=address,undefined --CDCMAKE_BUILD_TYPE=RelWithDebInfo
LD_PRELOAD="$($CXX -print-file-name=libasan.so):$($CXX -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
TENSORGATE_ADDON=build-asan/Release/tensorgate.node \
  npx vitest run test/batcher.test.ts test/batcher-workers.test.ts test/engine-basic.test.ts test/engine-errors.test.ts test/engine-datatypes.test.ts test/engine-workers.test.ts

native_test() {  # $1 build dir, $2 sanitizers
  cmake -S . -B "$1" -DTENSORGATE_NATIVE_TESTS=ON -DTENSORGATE_SANITIZE="$2" -DTENSORGATE_CUDA=OFF \
    -DORT_INCLUDE_DIR="$(node scripts/fetch-ort-headers.mjs)" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$1" --target scheduler_test
  (cd "$1" && ctest --output-on-failure)
}

echo "== 2/3 scheduler and queue under TSan"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 native_test build-tsan thread

echo "== 3/3 scheduler and queue under ASan+UBSan with LeakSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 native_test build-lsan address,undefined
echo "sanitizers: clean"
