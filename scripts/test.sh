#!/usr/bin/env bash
# The fast test tier, as CI runs it: installs what is missing, builds with warnings checked,
# runs every test suite, then runs the suites again under AddressSanitizer and ThreadSanitizer.
#   scripts/test.sh                 everything above
#   SANITIZERS=none scripts/test.sh skip the sanitizer passes (quicker local runs)
#   scripts/test.sh --filter X      pass a filter to every `swift test` run
#   FUZZ_SECONDS=none scripts/test.sh  skip the short fuzz run (0: replay regressions only)
#   LEAK_CHECK=1 scripts/test.sh    also run LeakSanitizer (suppressions in .ci/lsan.supp)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

sanitizers=${SANITIZERS:-address thread}
started=$(date +%s)

echo "test: building (debug, with tests)"
build_log=$(mktemp)
if ! swift build --build-tests 2>&1 | tee "$build_log" | grep -E 'error:|Build complete'; then
    cat "$build_log"
    exit 1
fi
# Warnings in our own sources fail the run: the code base stays warning-free.
if grep -E '^/.*(Sources|Tests|Benchmarks)/.*warning:' "$build_log"; then
    echo "test: the build has warnings (above)" >&2
    exit 1
fi
rm -f "$build_log"

echo "test: running all suites"
swift test --skip-build "$@"

for s in $sanitizers; do
    [ "$s" = none ] && continue
    echo "test: building and running all suites under the $s sanitizer"
    scratch=".build/sanitize-$s"
    # gold warns about every sanitizer symbol it cannot export; those lines are noise.
    log=$(mktemp)
    if ! swift build --build-tests --sanitize="$s" --scratch-path "$scratch" >"$log" 2>&1; then
        grep -vE 'ld.gold: warning: Cannot export local symbol' "$log"
        exit 1
    fi
    grep -E 'Build complete' "$log"
    rm -f "$log"
    # Swift's backtracer would wait on a crashing child; the sanitizer report is what we need.
    # Leak detection is off unless LEAK_CHECK=1: test fixtures (the in-process emulator, echo
    # servers) keep reference cycles alive until exit, which LeakSanitizer reports in bulk.
    if [ "${LEAK_CHECK:-0}" = 1 ]; then
        export ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp"
    else
        export ASAN_OPTIONS=detect_leaks=0
    fi
    SWIFT_BACKTRACE=enable=no swift test --skip-build --sanitize="$s" --scratch-path "$scratch" "$@"
done

# Fuzz every parser briefly after replaying Fuzz/Regressions (FUZZ_SECONDS=0: replay only;
# FUZZ_SECONDS=none: skip). Longer runs: scripts/fuzz.sh --long.
fuzz_seconds=${FUZZ_SECONDS:-5}
if [ "$fuzz_seconds" != none ]; then
    echo "test: fuzzing every parser for $fuzz_seconds s each"
    scripts/fuzz.sh --seconds "$fuzz_seconds"
fi

echo "test: fast tier finished in $(( $(date +%s) - started )) s"
