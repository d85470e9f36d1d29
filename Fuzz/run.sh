#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets (Fuzz/build.sh), replays each target's
# regression inputs (Fuzz/regressions/<Name>/, every file once, in full), then
# fuzzes it from its committed seeds (Fuzz/corpus/<Name>/) for FUZZ_RUNS inputs
# or, when FUZZ_TIME is set, for that many seconds.
#
# New coverage-increasing inputs are kept in .build-fuzz/corpus/<Name>/ (never in
# the committed seeds), so later runs start from them; crashing inputs are written
# to .build-fuzz/artifacts/<Name>/ and reproduce with
#   .build-fuzz/swiftpm/fuzzers/<Name> <file>
# Each target's libFuzzer output is in .build-fuzz/logs/<Name>.log.
#
# Usage: Fuzz/run.sh [Name...]     (default: every target)
# Environment: FUZZ_RUNS (default 20000), FUZZ_TIME (seconds per target),
#              FUZZ_ARGS (more libFuzzer flags), DURIN_FUZZ_SCRATCH (see build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DURIN_FUZZ_SCRATCH:-$root/.build-fuzz/swiftpm}
runs=${FUZZ_RUNS:-20000}
time=${FUZZ_TIME:-}

if [ $# -eq 0 ]; then
    set -- $(cd "$root/Fuzz" && for f in */main.swift; do echo "${f%/main.swift}"; done)
fi
"$root/Fuzz/build.sh" "$@"

common=(-rss_limit_mb=2048 -timeout=10)
failed=()
# A failing input, in base64 in the log (a CI run's files are gone after it): decode
# it with `base64 -d > input` and reproduce with the fuzzer.
show_input() {
    echo "$name: failing input $(basename "$1"), $(stat -c %s "$1") bytes, base64: $(base64 -w0 "$1")" >&2
}
for name in "$@"; do
    fuzzer=$scratch/fuzzers/$name
    work=$root/.build-fuzz/corpus/$name
    artifacts=$root/.build-fuzz/artifacts/$name
    log=$root/.build-fuzz/logs/$name.log
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    rm -f "$artifacts"/*  # only this run's failures are shown
    : >"$log"

    regressions=()
    if [ -d "$root/Fuzz/regressions/$name" ]; then
        mapfile -t regressions < <(find "$root/Fuzz/regressions/$name" -type f | sort)
    fi
    if [ ${#regressions[@]} -gt 0 ] &&
        ! "$fuzzer" "${common[@]}" -artifact_prefix="$artifacts/" "${regressions[@]}" >>"$log" 2>&1; then
        echo "$name: a regression input fails (log: $log)" >&2
        tail -n 40 "$log" >&2
        for input in "${regressions[@]}"; do
            "$fuzzer" "${common[@]}" -artifact_prefix="$artifacts/" "$input" >/dev/null 2>&1 || show_input "$input"
        done
        failed+=("$name")
        continue
    fi

    limit=(-runs="$runs")
    [ -n "$time" ] && limit=(-max_total_time="$time")
    dict=()
    for d in "$root/Fuzz/$name"/*.dict; do [ -f "$d" ] && dict=(-dict="$d"); done
    start=$(date +%s)
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
    if "$fuzzer" "${common[@]}" -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "${limit[@]}" "${dict[@]}" ${FUZZ_ARGS:-} "$work" "$root/Fuzz/corpus/$name" >>"$log" 2>&1; then
        final() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
        seconds=$(($(date +%s) - start))
        rate=""
        per_second=$(final average_exec_per_sec)
        [ "$seconds" -gt 0 ] && [ "${per_second:-0}" -gt 0 ] && rate=" ($per_second/s)"
        echo "$name: ok, $(final number_of_executed_units) inputs in $seconds s$rate," \
            "${#regressions[@]} regression inputs, corpus $(find "$work" -type f | wc -l) files," \
            "peak RSS $(final peak_rss_mb) MB"
    else
        echo "$name: FAILED (log: $log; input in $artifacts/)" >&2
        tail -n 40 "$log" >&2
        for input in "$artifacts"/*; do [ -f "$input" ] && show_input "$input"; done
        failed+=("$name")
    fi
done
echo "fuzz: $(($# - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
