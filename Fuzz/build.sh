#!/usr/bin/env bash
# Builds the libFuzzer targets: Fuzz/<Name>/main.swift -> .build-fuzz/swiftpm/fuzzers/<Name>.
#
# SwiftPM builds the library targets (DurinConsole, DurinServer and everything they depend on,
# swift-crypto included) into their own scratch path with coverage and
# AddressSanitizer instrumentation (-sanitize=fuzzer,address, Swift code only);
# each fuzz entry point is then compiled and linked against those objects with
# swiftc, which adds libFuzzer's main. Nothing here touches Package.swift or the
# normal .build directory.
#
# Usage: Fuzz/build.sh [Name...]          (default: every Fuzz/*/main.swift)
# Environment: DURIN_FUZZ_SCRATCH (default .build-fuzz/swiftpm),
#              DURIN_FUZZ_PACKAGE (default: this repository; the package to build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
package=${DURIN_FUZZ_PACKAGE:-$root}
scratch=${DURIN_FUZZ_SCRATCH:-$root/.build-fuzz/swiftpm}
out=$scratch/fuzzers
sanitize=-sanitize=fuzzer,address

if [ $# -eq 0 ]; then
    set -- $(cd "$root/Fuzz" && for f in */main.swift; do echo "${f%/main.swift}"; done)
fi

swift build --package-path "$package" --scratch-path "$scratch" -c release \
    --target DurinConsole -Xswiftc "$sanitize"
bin=$(swift build --package-path "$package" --scratch-path "$scratch" -c release --show-bin-path)

# Every object of the libraries built above; executables and tests are left out
# (they are not built here, but a scratch path may hold them from elsewhere).
# A Swift module's objects are the ones its output-file-map.json names: an object
# of a source file since deleted or renamed stays in the folder and would be
# linked twice. C modules have no map; all their objects count.
mapfile -t objects < <(for dir in "$bin"/*.build; do
    case $dir in
        */durin_fcgi.build | */durinctl.build | *Tests.build | */durinPackage* | */ArgumentParser* | *-tool.build) continue ;;
    esac
    if [ -f "$dir/output-file-map.json" ]; then
        python3 -c 'import json, os, sys
for entry in json.load(open(sys.argv[1])).values():
    o = entry.get("object")
    if o and os.path.isfile(o): print(o)' "$dir/output-file-map.json"
    else
        find "$dir" -name '*.o'
    fi
done | sort)
[ ${#objects[@]} -gt 0 ] || { echo "no objects under $bin" >&2; exit 1; }
newest=$(stat -c '%Y %n' "${objects[@]}" | sort -n | tail -n 1 | cut -d' ' -f2-)

# The library's declarations are `package`: a fuzz entry point sees them as a
# member of the same package, which SwiftPM names after the package's folder
# (lowercased, anything but letters, digits and _ made _).
package_name=$(basename "$(cd "$package" && pwd)" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9_]/_/g; s/^[0-9]/_&/')

mkdir -p "$out"
for name in "$@"; do
    main=$root/Fuzz/$name/main.swift
    [ -f "$main" ] || { echo "no such fuzz target: $name" >&2; exit 2; }
    if [ -x "$out/$name" ] && [ "$out/$name" -nt "$main" ] && [ "$out/$name" -nt "$newest" ]; then
        continue
    fi
    echo "linking $out/$name"
    swiftc -O -g "$sanitize" -parse-as-library -module-name "Fuzz$name" -package-name "$package_name" \
        -I "$bin/Modules" -I "$package/Sources/CHiredis" -I "$package/Sources/CFastCGI" -I "$package/Sources/CSystem" \
        -use-ld=lld -module-cache-path "$scratch/fuzz-module-cache" \
        "$main" "${objects[@]}" $(pkg-config --libs hiredis fcgi) -o "$out/$name"
done
