#!/usr/bin/env bash
# The distributed checks of `losskit` under mpirun with 2 and 3 ranks (on one
# machine, ranks oversubscribed on its cores). Every mpirun is bounded by
# `timeout`: a hung or failed rank fails this script, it never hangs it.
#
#   Tests/MPI/run.sh [path/to/losskit]      (default: Tool/.build/debug/losskit)
#
# Checks, on a 3000 x 1003 cross-entropy with label smoothing 0.1:
#   --data-parallel: the loss and gradient files are bitwise those of one process;
#   --vocab-parallel: the loss within 1e-6 relative, the gradient within 1e-6 of its largest entry;
# `losskit train --data digits --loss cross_entropy --epochs 3 --seed 1` writes the same
# metrics.json (history and test metrics) for 1, 2 and 3 ranks; the vocab-parallel
# linear head agrees with one process; the bench prints one line per rank; bad input on
# one rank, and shapes that differ across ranks, are errors on every rank; and (as
# root) two ranks in two network namespaces give the same results over TCP (netns.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
losskit=${1:-$root/Tool/.build/debug/losskit}
case "$losskit" in /*) ;; *) losskit=$PWD/$losskit ;; esac
npy="python3 $root/Tests/MPI/npy.py"
seconds=${MPI_TEST_TIMEOUT:-180}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v mpirun >/dev/null || { echo "mpirun not found: install openmpi-bin (make deps)"; exit 1; }
[ -x "$losskit" ] || { echo "$losskit not found: build the tool first"; exit 1; }

# As root Open MPI needs --allow-run-as-root; --oversubscribe runs more ranks than cores.
run() {
    local ranks=$1
    shift
    timeout -k 10 "$seconds" mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$losskit" "$@"
}

failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

cd "$work"
$npy cross-entropy . 3000 1003 1
ce=(eval cross_entropy --input logits.npy --target targets.npy --option label_smoothing=0.1)
"$losskit" "${ce[@]}" --loss-out loss1.npy --grad-out grad1.npy >/dev/null

for p in 2 3; do
    if run "$p" "${ce[@]}" --data-parallel --loss-out loss-dp$p.npy --grad-out grad-dp$p.npy >out.txt 2>&1 &&
        cmp -s loss1.npy loss-dp$p.npy && cmp -s grad1.npy grad-dp$p.npy; then
        pass "$p ranks --data-parallel: loss and gradient bitwise identical to one process"
    else
        fail "$p ranks --data-parallel"; cat out.txt
    fi
    if run "$p" "${ce[@]}" --vocab-parallel --loss-out loss-vp$p.npy --grad-out grad-vp$p.npy >out.txt 2>&1 &&
        $npy close loss-vp$p.npy loss1.npy 1e-6 >loss.txt && $npy close grad-vp$p.npy grad1.npy 1e-6 >grad.txt; then
        pass "$p ranks --vocab-parallel: loss $(cat loss.txt); gradient $(cat grad.txt)"
    else
        fail "$p ranks --vocab-parallel"; cat out.txt loss.txt grad.txt 2>/dev/null || true
    fi
done

train=(train --data digits --loss cross_entropy --epochs 3 --seed 1)
"$losskit" "${train[@]}" --out train1 >/dev/null
for p in 2 3; do
    if run "$p" "${train[@]}" --out train$p >out.txt 2>&1 && cmp -s train1/metrics.json train$p/metrics.json; then
        pass "$p ranks train: metrics.json (history, test metrics) identical to one process"
    else
        fail "$p ranks train"; cat out.txt; diff train1/metrics.json train$p/metrics.json || true
    fi
done

$npy linear-head . 300 24 517 2
head=(eval linear_cross_entropy --input hidden.npy --target tokens.npy --tensor linear_weight=head.npy
    --tensor linear_bias=bias.npy --option label_smoothing=0.1)
"$losskit" "${head[@]}" --loss-out head-loss1.npy --grad-out head-grad1.npy >/dev/null
if run 3 "${head[@]}" --vocab-parallel --loss-out head-loss3.npy --grad-out head-grad3.npy >out.txt 2>&1 &&
    $npy close head-loss3.npy head-loss1.npy 1e-6 >loss.txt && $npy close head-grad3.npy head-grad1.npy 1e-5 >grad.txt; then
    pass "3 ranks vocab-parallel linear_cross_entropy: loss $(cat loss.txt); input gradient $(cat grad.txt)"
else
    fail "3 ranks vocab-parallel linear_cross_entropy"; cat out.txt loss.txt grad.txt 2>/dev/null || true
fi

bench=(bench linear-cross-entropy --shape 128x16x3001 --vocab-parallel --json --repeat 1)
"$losskit" "${bench[@]}" >bench1.txt
if run 2 "${bench[@]}" >bench2.txt 2>&1 && [ "$(grep -c '"peak_rss_bytes"' bench2.txt)" = 2 ] &&
    grep -q '"rank": 0, "ranks": 2' bench2.txt && grep -q '"rank": 1, "ranks": 2' bench2.txt; then
    pass "2 ranks bench --vocab-parallel: one line per rank with rank and peak_rss_bytes"
else
    fail "2 ranks bench --vocab-parallel"; cat bench2.txt
fi

# Bad input on one rank: the last target is out of range, in the last rank's rows.
$npy target-out-of-range . 3000 1003
set +e
run 3 eval cross_entropy --input logits.npy --target bad-targets.npy --data-parallel >out.txt 2>&1
status=$?
set -e
if [ "$status" != 0 ] && [ "$status" != 124 ] && [ "$status" != 137 ] &&
    grep -q "rank 2: target\[999\] is 1003, outside the valid range" out.txt &&
    grep -q "rank 0: Rank 2 failed: target\[999\] is 1003" out.txt; then
    pass "3 ranks: a target out of range on rank 2 is an error on every rank (status $status)"
else
    fail "3 ranks: a target out of range on one rank (status $status)"; cat out.txt
fi

# Shapes that differ across ranks: each rank reads its own file ({rank}).
mkdir -p rank1
$npy cross-entropy rank1 1000 17 3
cp logits.npy logits-0.npy && cp targets.npy targets-0.npy
cp rank1/logits.npy logits-1.npy && cp rank1/targets.npy targets-1.npy
set +e
run 2 eval cross_entropy --input 'logits-{rank}.npy' --target 'targets-{rank}.npy' --vocab-parallel >out.txt 2>&1
status=$?
set -e
if [ "$status" != 0 ] && [ "$status" != 124 ] && [ "$status" != 137 ] && grep -q "disagree about the number of rows N" out.txt; then
    pass "2 ranks: logits of different row counts on the ranks are an error on every rank (status $status)"
else
    fail "2 ranks: different shapes across ranks (status $status)"; cat out.txt
fi

# Two ranks in two network namespaces (needs root, `ip netns` and veth pairs).
netns_available() {
    [ "$(id -u)" = 0 ] && command -v ip >/dev/null || return 1
    ip netns add lkmpi-probe 2>/dev/null || return 1
    local ok=0
    ip link add lkprobe0 type veth peer name lkprobe1 2>/dev/null && ip link set lkprobe1 netns lkmpi-probe 2>/dev/null || ok=1
    ip link delete lkprobe0 2>/dev/null || true
    ip netns delete lkmpi-probe 2>/dev/null || true
    return $ok
}
if netns_available; then
    "$root/Tests/MPI/netns.sh" "$losskit" || failures=$((failures + 1))
else
    echo "skip 2 ranks in 2 network namespaces: needs root, ip netns and veth pairs"
fi

if [ "$failures" != 0 ]; then
    echo "$failures MPI check(s) failed"
    exit 1
fi
echo "all MPI checks passed"
