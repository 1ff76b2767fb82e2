#!/usr/bin/env bash
# A connection storm: 50,000 connects and disconnects in five waves of 10,000 subscribed
# clients, against each broker in turn (broker on core 0, generator on core 1). Prints the
# broker's RSS before, at its peak and two seconds after the last wave, and each wave's
# connect rate.
#
#   bash bench/storm.sh [BROKER...]      (default: midge mosquitto)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release --quiet --workspace --bins
export PATH="$PATH:/usr/sbin"
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
printf 'listener 21940 127.0.0.1\nallow_anonymous true\n' >"$work/storm.conf"
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

brokers=("$@")
[ "${#brokers[@]}" -gt 0 ] || brokers=(midge mosquitto)
for broker in "${brokers[@]}"; do
    case $broker in
        midge) taskset -c 0 target/release/midge -c "$work/storm.conf" >/dev/null 2>&1 & ;;
        mosquitto) taskset -c 0 mosquitto -c "$work/storm.conf" >/dev/null 2>&1 & ;;
        *) echo "unknown broker $broker" >&2; exit 2 ;;
    esac
    pid=$!
    sleep 0.5
    start=$(rss "$pid")
    peak=0
    rates=""
    for _ in 1 2 3 4 5; do
        read -r hwm rate errors < <(taskset -c 1 target/release/midge_loadgen conns -c 10000 -d 1 \
            -p 21940 --broker-pid "$pid" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["broker"]["hwm_kib"], round(d["connect"]["per_s"]), d["errors"])')
        rates="$rates $rate/s"
        [ "$errors" = 0 ] || rates="$rates ($errors errors)"
        if [ "$hwm" -gt "$peak" ]; then peak=$hwm; fi
        sleep 1
    done
    sleep 2
    echo "$broker: RSS $start KiB before, $peak KiB at the peak, $(rss "$pid") KiB after; connects:$rates"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
done
