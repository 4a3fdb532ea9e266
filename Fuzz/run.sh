#!/usr/bin/env bash
# Builds the libFuzzer targets (release, fuzzer + address sanitizers) and runs
# each for FUZZ_SECONDS seconds (default 60); FUZZ_TARGETS picks targets (default:
# all three). The corpus grows in Fuzz/corpus/<target>/ (not committed); the committed
# seeds and crashers under Tests/Fixtures/fuzz/ are read as well. Prints the number
# of executions per target. A crash stops that target's run with a non-zero status
# and leaves the input in Fuzz/findings/<target>/: fix it, then commit it under
# Tests/Fixtures/fuzz/ so the test suite replays it.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_JOBS="${FUZZ_JOBS:-1}"
root="$(cd .. && pwd)"

# `-sanitize=fuzzer` alone links libFuzzer but (Swift 6.3) does not instrument the
# library modules for coverage: ask for edge coverage and comparison tracing explicitly.
flags=(-c release --sanitize=fuzzer --sanitize=address
    -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table)
swift build "${flags[@]}" --product FuzzReferenceFile
swift build "${flags[@]}" --product FuzzLoss
swift build "${flags[@]}" --product FuzzNPY
bin="$(swift build "${flags[@]}" --show-bin-path)"

status=0
for target in ${FUZZ_TARGETS:-FuzzReferenceFile FuzzLoss FuzzNPY}; do
    case "$target" in
        FuzzReferenceFile) fixtures="$root/Tests/Fixtures/fuzz/reference-file" ;;
        FuzzLoss) fixtures="$root/Tests/Fixtures/fuzz/loss" ;;
        FuzzNPY) fixtures="$root/Tests/Fixtures/npy" ;;
    esac
    corpus="corpus/$target"
    findings="findings/$target"
    mkdir -p "$corpus" "$findings"
    seeds=()
    [ -d "$fixtures" ] && seeds+=("$fixtures")
    log="findings/$target.log"
    echo "== $target for ${FUZZ_SECONDS}s"
    set +e
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$bin/$target" \
        -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    set -e
    runs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)"
    echo "$target: ${runs:-?} executions, exit status $rc (log: Fuzz/$log)"
    if [ $rc -ne 0 ]; then
        status=1
        grep -E "Fatal error|ERROR: AddressSanitizer|SUMMARY|Test unit written" "$log" | head -5 || true
    fi
done
exit $status
