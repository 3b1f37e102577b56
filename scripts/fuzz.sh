#!/usr/bin/env bash
# Runs each fuzz target for FUZZTIME and prints one line per target:
#   netconf.FuzzParse: 312345 execs, 31234/s
# Usage: scripts/fuzz.sh FUZZTIME PKG:TARGET...   (e.g. 10s ./netconf:FuzzParse)
#
# It fails only on a real finding: a failing input go wrote to
# testdata/fuzz/TARGET/ (a crasher; `go test -run=TARGET/NAME PKG` replays
# it), a failing seed, or a target that does not build. go1.26's fuzz
# coordinator can end a healthy run with a bare "context deadline
# exceeded" at the -fuzztime boundary (https://go.dev/issue/75804, fixed
# in go1.27): that run is reported with its execs and does not fail.
#
# Minimizing each new interesting input may take up to 60 s by default,
# during which the target runs no new inputs: a 10 s run of the API target
# did 5,000 execs/s with it, 40,000-60,000 with FUZZMINIMIZETIME=100x
# (the default here). A crasher is still written, minimized less.
set -uo pipefail
GO=${GO:-go}
minimize=${FUZZMINIMIZETIME:-100x}
fuzztime=$1
shift
failed=0
for spec in "$@"; do
  pkg=${spec%%:*} target=${spec##*:}
  name="$(basename "$pkg").$target"
  corpus="$pkg/testdata/fuzz/$target"
  before=$(ls "$corpus" 2>/dev/null | sort)
  out=$("$GO" test -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" "$pkg" 2>&1)
  rc=$?
  after=$(ls "$corpus" 2>/dev/null | sort)
  # The last progress line: "fuzz: elapsed: 10s, execs: 312345 (31234/sec), ..."
  last=$(grep -E '^fuzz: elapsed: [0-9]+s, execs: [0-9]+' <<<"$out" | tail -n 1)
  secs=$(sed -E 's/^fuzz: elapsed: ([0-9]+)s.*/\1/' <<<"$last")
  execs=$(sed -E 's/.*execs: ([0-9]+).*/\1/' <<<"$last")
  rate="?"
  if [ -n "$last" ] && [ "$secs" -gt 0 ]; then rate=$((execs / secs)); fi
  summary="$name: ${execs:-0} execs, $rate/s"
  if [ "$rc" -eq 0 ]; then
    echo "$summary"
  elif [ "$before" != "$after" ] || grep -q 'Failing input written to' <<<"$out"; then
    echo "$summary: CRASHER"
    echo "$out"
    failed=1
  elif [ -n "$last" ] && ! grep -q -- "--- FAIL: $target/" <<<"$out" &&
    [ "$(grep -c -v -E '^(fuzz: |--- FAIL: '"$target"' |    context deadline exceeded$|FAIL|exit status 1$|ok |warning: )' <<<"$out")" -eq 0 ]; then
    echo "$summary (ended by go's fuzztime race, go.dev/issue/75804; no failing input)"
  else
    echo "$summary: FAILED"
    echo "$out"
    failed=1
  fi
done
exit $failed
