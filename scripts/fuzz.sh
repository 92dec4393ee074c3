#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang++-14, ASan+UBSan) into build-fuzz/ and runs each for
# SECONDS_PER_TARGET seconds (default 30) from a copy of its seed corpus in a temporary directory,
# so nothing is written into the repository. Prints one line per target; exits non-zero when any
# target crashed, keeping that target's directory (crash reproducer and log) and naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2; }

scripts/install-deps.sh
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

dir=build-fuzz
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DLT_FUZZ=ON -DLT_BUILD_TESTS=OFF -DLT_BUILD_BENCH=OFF >/dev/null
ninja -C "$dir" fuzz_targets

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
targets=(nats_reader_fuzz mqtt_splitter_fuzz http_response_fuzz url_fuzz amqp_reader_fuzz results_fuzz
         options_fuzz request_parser_fuzz wire_header_fuzz echo_reader_fuzz compare_fuzz)
failed=()
for t in "${targets[@]}"; do
  work=$(mktemp -d "/tmp/lt-fuzz-$t.XXXXXX")
  mkdir "$work/corpus" "$work/artifacts"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  rc=0
  # From $work, so that nothing (fuzz-N.log, crash files) lands in the repository.
  (cd "$work" && "$OLDPWD/$dir/fuzz/$t" -max_total_time="$seconds" -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" corpus) >"$work/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$work/log" | tail -n 1)
  if ((rc == 0)); then
    printf '%-20s ok     %s execs (%s/s), %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}"
    rm -rf "$work"
  else
    printf '%-20s CRASH  exit %d after %s execs; reproducer and log in %s\n' "$t" "$rc" \
      "${execs:-?}" "$work"
    grep -m 3 -E 'ERROR: |runtime error|check failed' "$work/log" | sed 's/^/    /' || true
    echo "    rerun: $dir/fuzz/$t $work/artifacts/<file>"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashed: ${failed[*]}" >&2
  exit 1
fi
