#!/usr/bin/env bash
# The attacks of issue 11 against midge and mosquitto 2.0.11 in one run: for each attack, a
# fresh broker (pinned to core 0), a well-behaved client timing PINGREQ -> PINGRESP every
# 10 ms and the attack (both on core 1); the broker's peak resident memory (VmHWM) and the
# probe's worst reply time while the attack ran. Prints a markdown table (README's
# "Abuse" section shows one); one JSON line per run goes to target/abuse/results.jsonl.
#
#   bash bench/abuse.sh                                   # every attack, both brokers
#   bash bench/abuse.sh --attacks pingreq-flood,half-open-10000 --brokers midge
#
# A few minutes. A broker whose resident memory passes 2 GiB is stopped and its row
# marked (--rss-cap-mib). The attack clients are bench/abuse.py (raw sockets, MQTT 3.1.1,
# loopback only, every loop bounded in count and time).
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 half-open sockets need as many descriptors in the broker and in the attacker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 12000 ]; then
    echo "abuse.sh: needs 12,000 file descriptors (ulimit -n is $(ulimit -n))" >&2
    exit 1
fi
cargo build --release --quiet --bin midge
exec python3 bench/abuse.py --midge target/release/midge --mosquitto /usr/sbin/mosquitto "$@"
