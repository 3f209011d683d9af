#!/usr/bin/env bash
# Distributed evaluation with an MMagic config: tools/mmagic/dist_test.sh CONFIG CHECKPOINT GPUS [test.py ARGS]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT from the environment. Without GPUs,
# GPUS processes evaluate on the CPU over gloo.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
if [ -z "$CONFIG" ] || [ -z "$CHECKPOINT" ] || [ -z "$GPUS" ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py arguments]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$here/../..":$PYTHONPATH \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" \
    --master_port="${PORT:-29500}" \
    "$here/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
