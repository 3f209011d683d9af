#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG GPUS [train.py ARGS]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT from the environment.
# Without GPUs, GPUS processes train on the CPU over gloo.
# Exit status: train.py's (0 done, 1 stopped, 2 bad input, 3 stopped by
# SIGTERM/SIGINT after a checkpoint: rerun with --auto-resume); torchrun
# itself only says 1 when a rank fails, so rank 0 leaves its status in a file.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
if [ -z "$CONFIG" ] || [ -z "$GPUS" ]; then
    echo "usage: $0 CONFIG GPUS [train.py arguments]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
status_file="$(mktemp)"
trap 'rm -f "$status_file"' EXIT
MMGEN_ADV_STATUS_FILE="$status_file" \
PYTHONPATH="$here/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$here/train.py" "$CONFIG" --seed 0 --launcher pytorch "${@:3}" &
launcher=$!
# a signal to this script goes on to torchrun, which passes it to the ranks
trap 'kill -TERM "$launcher" 2>/dev/null' TERM
trap 'kill -INT "$launcher" 2>/dev/null' INT
wait "$launcher"
status=$?
while kill -0 "$launcher" 2>/dev/null; do  # wait was cut short by a signal
    wait "$launcher"
    status=$?
done
if [ -s "$status_file" ]; then
    status=$(cat "$status_file")
fi
exit "$status"
