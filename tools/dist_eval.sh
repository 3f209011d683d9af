#!/usr/bin/env bash
# Distributed evaluation with torchrun: tools/dist_eval.sh CONFIG CKPT GPUS [evaluation.py ARGS]
# NNODES, NODE_RANK, MASTER_ADDR and PORT from the environment; gloo on CPU.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
if [ -z "$CONFIG" ] || [ -z "$CHECKPOINT" ] || [ -z "$GPUS" ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [evaluation.py arguments]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
PYTHONPATH="$here/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$here/evaluation.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
