#!/usr/bin/env bash
# Distributed training of an MMagic config: tools/mmagic/dist_train.sh CONFIG GPUS [train.py ARGS]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT from the environment. Without GPUs,
# GPUS processes train on the CPU over gloo.
CONFIG=$1
GPUS=$2
if [ -z "$CONFIG" ] || [ -z "$GPUS" ]; then
    echo "usage: $0 CONFIG GPUS [train.py arguments]" >&2
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
    "$here/train.py" "$CONFIG" --launcher pytorch "${@:3}"
