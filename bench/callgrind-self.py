#!/usr/bin/env python3
"""Self cost per function of a callgrind dump, per request: what each function
costs itself, its callees left out (callgrind_annotate 3.19 charges everything to
`clone` for a dump taken with callgrind_control).

    bench/callgrind-self.py DUMP REQUESTS [TOP]
"""
import collections
import re
import sys

names, cost = {}, collections.Counter()
fn, after_call = None, False
with open(sys.argv[1], errors="replace") as dump:
    for line in dump:
        line = line.rstrip("\n")
        m = re.match(r"^fn=\((\d+)\)(?: (.*))?$", line)
        if m:
            fn = m.group(1)
            if m.group(2):
                names[fn] = m.group(2)
            continue
        m = re.match(r"^c?fn=\((\d+)\) (.*)$", line)
        if m:
            names[m.group(1)] = m.group(2)
            continue
        if line.startswith("calls="):
            after_call = True  # the next cost line is the call's inclusive cost
            continue
        if line and (line[0].isdigit() or line[0] in "+-*"):
            if after_call:
                after_call = False
                continue
            parts = line.split()
            if len(parts) >= 2 and fn:
                cost[fn] += int(parts[1])
requests = int(sys.argv[2])
total = sum(cost.values())
print(f"{total // requests} instructions per request; each function's own, per request:")
for f, c in cost.most_common(int(sys.argv[3]) if len(sys.argv) > 3 else 40):
    print(f"{c // requests:8d} {100 * c / total:5.1f}%  {names.get(f, f)[:160]}")
