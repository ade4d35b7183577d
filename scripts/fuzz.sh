#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ and runs them: first every saved crash reproducer in
# Fuzz/Regressions/<name>/ (each must now pass), then each fuzzer for a bounded time.
#   scripts/fuzz.sh                     every fuzzer, 20 s each
#   scripts/fuzz.sh --seconds 60 go-duration command-line
#   scripts/fuzz.sh --long              every fuzzer, 10 min each
#   scripts/fuzz.sh --replay-only       build and replay the regressions, no fuzzing (also
#                                       what --seconds 0 does)
#   scripts/fuzz.sh --no-build ...      reuse the fuzzers built last time
#   scripts/fuzz.sh --list              the fuzzer names
# Environment: FUZZ_JOBS (fuzzers run at once, default: the number of CPUs),
# FUZZ_SCRATCH (build directory, default .build/fuzz), FUZZ_WORK (corpora, crashes and logs of
# the runs, default .build/fuzz-work). Exit status 1 when a regression or a fuzzer fails.
# A new crash input is copied to Fuzz/Regressions/<name>/ so that it is replayed from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20
replay_only=0
no_build=0
names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --seconds=*) seconds=${1#--seconds=}; shift ;;
        --long) seconds=600; shift ;;
        --replay-only) replay_only=1; shift ;;
        --no-build) no_build=1; shift ;;
        --list) ls Fuzz/Fuzzers; exit 0 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) names+=("$1"); shift ;;
    esac
done
case "$seconds" in
    ''|*[!0-9]*) echo "fuzz: --seconds needs a whole number, got '$seconds'" >&2; exit 2 ;;
esac
if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <(ls Fuzz/Fuzzers)
fi
for name in "${names[@]}"; do
    [ -d "Fuzz/Fuzzers/$name" ] || { echo "fuzz: no fuzzer named '$name' (see --list)" >&2; exit 2; }
done

scratch=${FUZZ_SCRATCH:-.build/fuzz}
work=${FUZZ_WORK:-.build/fuzz-work}
jobs=${FUZZ_JOBS:-$(nproc)}
started=$(date +%s)

# -sanitize=fuzzer instruments every Swift module (the product's too) for coverage and links
# libFuzzer; -parse-as-library because the harnesses have no top-level code; -enable-testing
# lets harnesses reach internal parsers with @testable; lld avoids a gold warning about ASan.
build=(swift build -c release --package-path Fuzz --scratch-path "$scratch"
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing
    -Xswiftc -use-ld=lld)
[ "$no_build" = 1 ] || echo "fuzz: building ${#names[@]} fuzzer(s) (release, libFuzzer + AddressSanitizer)"
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
targets=()
if [ ${#names[@]} -lt "$(ls Fuzz/Fuzzers | wc -l)" ]; then
    for name in "${names[@]}"; do targets+=("--product fuzz-$name"); done
else
    targets+=("")
fi
[ "$no_build" = 1 ] && targets=()
for target in "${targets[@]}"; do
    # shellcheck disable=SC2086 # $target is empty or "--product NAME"
    if ! "${build[@]}" $target >"$build_log" 2>&1; then
        grep -E 'error:' "$build_log" || tail -40 "$build_log"
        echo "fuzz: build failed" >&2
        exit 1
    fi
done
bin=$("${build[@]}" --show-bin-path)
for name in "${names[@]}"; do
    [ -x "$bin/fuzz-$name" ] || { echo "fuzz: $bin/fuzz-$name is not built" >&2; exit 1; }
done
[ "$no_build" = 1 ] || echo "fuzz: built in $(( $(date +%s) - started )) s"

# Swift's backtracer would wait on a crashing process; libFuzzer's report is what we need.
export SWIFT_BACKTRACE=enable=no
# Leak reports would flag the process-lifetime fixtures some harnesses keep.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
failed=0
# Fuzzers with a failing regression: a new crash there is most likely the same open bug, so
# it stays in the work directory instead of adding a copy to Fuzz/Regressions.
open_bugs=" "

mkdir -p "$work"
echo "fuzz: replaying Fuzz/Regressions"
for name in "${names[@]}"; do
    dir="Fuzz/Regressions/$name"
    [ -d "$dir" ] || continue
    mapfile -t inputs < <(find "$dir" -type f ! -name '*.md' | sort)
    [ ${#inputs[@]} -gt 0 ] || continue
    for input in "${inputs[@]}"; do
        if timeout 60 "$bin/fuzz-$name" "$input" >"$work/replay.log" 2>&1; then
            echo "  pass  $input"
        else
            echo "  FAIL  $input"
            grep -E 'Fatal error|runtime failure|ERROR: AddressSanitizer|SUMMARY' "$work/replay.log" \
                | head -5 | sed 's/^/        /'
            failed=1
            open_bugs+="$name "
        fi
    done
done
rm -f "$work/replay.log"
if [ "$replay_only" = 1 ] || [ "$seconds" -eq 0 ]; then
    echo "fuzz: finished in $(( $(date +%s) - started )) s"
    exit $failed
fi

# One fuzzer: its own corpus (seeded from Fuzz/Corpus/<name>, new units stay out of the
# repository), its own artifact directory, its dictionary when Fuzz/Dictionaries has one, a
# time bound and a hard timeout around it.
run_one() {
    local name=$1 dir="$work/$name"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    local status=0 options=()
    [ -f "Fuzz/Dictionaries/$name.dict" ] && options+=(-dict="Fuzz/Dictionaries/$name.dict")
    timeout $(( seconds + 120 )) "$bin/fuzz-$name" \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${options[@]}" \
        "$dir/corpus" "Fuzz/Corpus/$name" >"$dir/log" 2>&1 || status=$?
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo '?')
    if [ "$status" -eq 0 ]; then
        echo "  ok    $name: $runs runs in ${seconds} s"
        return 0
    fi
    echo "  FAIL  $name (exit $status): log in $dir/log"
    grep -E 'Fatal error|runtime failure|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$dir/log" \
        | head -5 | sed 's/^/        /'
    if [[ "$open_bugs" == *" $name "* ]]; then
        echo "        Fuzz/Regressions/$name already fails; new inputs kept in $dir/artifacts"
        return 1
    fi
    mkdir -p "Fuzz/Regressions/$name"
    for artifact in "$dir"/artifacts/*; do
        [ -f "$artifact" ] || continue
        cp "$artifact" "Fuzz/Regressions/$name/"
        echo "        reproducer saved as Fuzz/Regressions/$name/$(basename "$artifact")"
        rm -f "$artifact"
    done
    return 1
}

echo "fuzz: running ${#names[@]} fuzzer(s) for $seconds s each, $jobs at a time"
running=0
for name in "${names[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$(( running - 1 ))
    fi
    run_one "$name" &
    running=$(( running + 1 ))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$(( running - 1 ))
done

echo "fuzz: finished in $(( $(date +%s) - started )) s"
exit $failed
