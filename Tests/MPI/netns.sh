#!/usr/bin/env bash
# Two ranks in two network namespaces of this machine, joined by a veth pair, so
# that the collectives cross a real network stack (Open MPI's TCP transport, not
# shared memory): `mpirun` runs in namespace lkmpi0 (10.77.0.1) and starts the
# second rank in lkmpi1 (10.77.0.2) through an rsh agent that enters the namespace.
# Needs root (ip netns). Checks that --data-parallel gives one process's bits and
# --vocab-parallel agrees within 1e-6, every run bounded by `timeout`.
#
#   Tests/MPI/netns.sh [path/to/losskit]      (default: Tool/.build/debug/losskit)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
losskit=${1:-$root/Tool/.build/debug/losskit}
case "$losskit" in /*) ;; *) losskit=$PWD/$losskit ;; esac
npy="python3 $root/Tests/MPI/npy.py"
seconds=${MPI_TEST_TIMEOUT:-180}
work=$(mktemp -d)
ns0=lkmpi0 ns1=lkmpi1

remove_namespaces() {
    ip netns delete "$ns0" 2>/dev/null || true
    ip netns delete "$ns1" 2>/dev/null || true
}
trap 'remove_namespaces; rm -rf "$work"' EXIT
remove_namespaces

ip netns add "$ns0"
ip netns add "$ns1"
ip link add lkveth0 type veth peer name lkveth1
ip link set lkveth0 netns "$ns0"
ip link set lkveth1 netns "$ns1"
ip -n "$ns0" addr add 10.77.0.1/24 dev lkveth0
ip -n "$ns1" addr add 10.77.0.2/24 dev lkveth1
for ns in "$ns0" "$ns1"; do
    ip -n "$ns" link set lo up
done
ip -n "$ns0" link set lkveth0 up
ip -n "$ns1" link set lkveth1 up
ip -n "$ns0" link show lkveth0 | grep -q "state UP\|LOWER_UP" || { echo "the veth pair did not come up"; exit 1; }

# Open MPI's rsh agent: `agent HOST COMMAND...` runs COMMAND in the namespace of HOST.
cat >"$work/agent.sh" <<EOF
#!/bin/sh
host=\$1
shift
case "\$host" in
    10.77.0.2) ns=$ns1 ;;
    *) ns=$ns0 ;;
esac
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$work/agent.sh"

run() {
    timeout -k 10 "$seconds" ip netns exec "$ns0" mpirun --allow-run-as-root -np 2 --host 10.77.0.1,10.77.0.2 \
        --mca plm_rsh_agent "$work/agent.sh" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
        "$losskit" "$@"
}

cd "$work"
$npy cross-entropy . 3000 1003 1
ce=(eval cross_entropy --input "$work/logits.npy" --target "$work/targets.npy" --option label_smoothing=0.1)
"$losskit" "${ce[@]}" --loss-out loss1.npy --grad-out grad1.npy >/dev/null
failures=0
if run "${ce[@]}" --data-parallel --loss-out "$work/loss-dp.npy" --grad-out "$work/grad-dp.npy" >out.txt 2>&1 &&
    cmp -s loss1.npy loss-dp.npy && cmp -s grad1.npy grad-dp.npy; then
    echo "ok   2 ranks in 2 network namespaces, --data-parallel: bitwise identical to one process"
else
    echo "FAIL 2 ranks in 2 network namespaces, --data-parallel"; cat out.txt; failures=1
fi
if run "${ce[@]}" --vocab-parallel --loss-out "$work/loss-vp.npy" --grad-out "$work/grad-vp.npy" >out.txt 2>&1 &&
    $npy close loss-vp.npy loss1.npy 1e-6 >/dev/null && $npy close grad-vp.npy grad1.npy 1e-6 >grad.txt; then
    echo "ok   2 ranks in 2 network namespaces, --vocab-parallel: gradient $(cat grad.txt)"
else
    echo "FAIL 2 ranks in 2 network namespaces, --vocab-parallel"; cat out.txt; failures=1
fi
received=$(ip -n "$ns1" -s link show lkveth1 | awk '/RX:/ { getline; print $1 }')
sent=$(ip -n "$ns1" -s link show lkveth1 | awk '/TX:/ { getline; print $1 }')
echo "     rank 1's namespace sent $sent and received $received bytes over the veth pair"
exit "$failures"
