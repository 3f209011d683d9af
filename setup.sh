#!/usr/bin/env bash
# Installs the pinned mmgen_adv stack into a virtual environment (default ./.venv).
#   ./setup.sh [VENV_DIR]        or   MMGEN_ADV_VENV=/path ./setup.sh
#   ./setup.sh --host mmagic [VENV_DIR]   the MMagic 1.x host instead (default ./.venv-mmagic):
#     mmcv 1.x and 2.x share the import name, so each host has its own environment.
# Idempotent: a second run with the same pins only re-checks the editable install
# and that mmcv-full's compiled ops work (tools/check_build.py ops, a few seconds).
# On a machine with an NVIDIA GPU (nvidia-smi answers), mmcv-full is built with CUDA ops
# for the GPUs found (TORCH_CUDA_ARCH_LIST overrides), after checking that nvcc matches
# torch's CUDA (tools/check_build.py cuda-toolchain).
#   MMGEN_ADV_CPU_OPS=1       build CPU ops only, even with a GPU
#   MMGEN_ADV_REBUILD_MMCV=1  uninstall mmcv-full, drop its cached wheel and build it again
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
host=mmgen
if [ "${1:-}" = --host ]; then host="${2:-}"; shift 2 || shift; fi
case "$host" in
    mmgen) default_venv="$here/.venv" ;;
    mmagic) default_venv="$here/.venv-mmagic" ;;
    *) echo "[setup] --host must be one of mmgen, mmagic; got '$host'" >&2; exit 2 ;;
esac
venv="${1:-${MMGEN_ADV_VENV:-$default_venv}}"
python="${PYTHON:-python3}"

# The exact stack (see docs/installation.md). `===` pins the registry build of
# torch: a plain `==` may pick a local `+cpu` build that torchvision cannot load against.
torch_pins=("torch===2.13.0" "torchvision==0.28.0")
# setuptools < 80: mmcv's setup.py imports pkg_resources
build_pins=("setuptools==79.0.1" "wheel" "ninja")
common_pins=("scipy<1.18" "numpy" "click" "requests" "tqdm" "prettytable"
             "scikit-image" "scikit-learn" "matplotlib" "tensorboard" "pytest")
if [ "$host" = mmgen ]; then
    # mmcv-full does not declare OpenCV, which `import mmcv` needs; its check needs both
    mmcv_pins=("mmcv-full==1.7.2" "opencv-python-headless")
    stack_pins=("mmgen==0.7.3" "mmcls==0.25.0" "mmengine==0.10.7" "${common_pins[@]}")
    ready='import mmgen_adv, mmgen.models; print("[setup] mmgen_adv", mmgen_adv.__version__, "ready with mmgen", __import__("mmgen").__version__)'
else
    # mmagic 1.2.0 refuses mmcv >= 2.2, and 2.1.0 is an sdist only
    mmcv_pins=("mmcv==2.1.0" "opencv-python-headless")
    # what `import mmagic.models` needs on today's packages: diffusers with
    # pipelines.paint_by_example, the hub API that diffusers < 0.29 calls
    # (cached_download), a transformers of its time, and the undeclared albumentations
    stack_pins=("mmagic==1.2.0" "mmengine==0.10.7" "diffusers==0.28.2"
                "huggingface_hub<0.26" "transformers==4.46.3" "albumentations"
                "${common_pins[@]}")
    ready='import mmgen_adv.mmagic, mmagic.models; print("[setup] mmgen_adv", mmgen_adv.__version__, "ready with mmagic", __import__("mmagic").__version__)'
fi

if [ "${MMGEN_ADV_CPU_OPS:-0}" = 1 ]; then with_cuda=0
elif nvidia-smi >/dev/null 2>&1; then with_cuda=1; else with_cuda=0; fi
if [ "$with_cuda" = 1 ]; then ops_device=cuda; else ops_device=cpu; fi
rebuild_mmcv="${MMGEN_ADV_REBUILD_MMCV:-0}"
stamp_text="$(printf '%s\n' "${torch_pins[@]}" "${build_pins[@]}" "${mmcv_pins[@]}" \
    "${stack_pins[@]}" "cuda=$with_cuda" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.mmgen_adv_stack"

log() { printf '[setup] %s\n' "$*"; }
# a build that cannot work stops the setup here, with one line saying why
check_build() { "$venv/bin/python" "$here/tools/check_build.py" "$@"; }

if [ ! -x "$venv/bin/python" ]; then
    "$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), \
        f"mmgen_adv needs Python 3.11, found {sys.version.split()[0]}"'
    log "creating virtual environment at $venv"
    "$python" -m venv "$venv"
fi
pip_install() {
    # the host's pip config lists local indexes that are often absent; keep
    # pip's warnings about them out of the way
    "$venv/bin/python" -m pip install --disable-pip-version-check "$@" 2>&1 |
        { grep -v "^WARNING: Location '.*' is ignored" || true; }
}

if [ "$rebuild_mmcv" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ]; then
    log "pinned stack already installed in $venv"
    ops_checked="$(check_build ops --device "$ops_device")"  # an assignment: set -e stops on failure
    log "$ops_checked"
else
    t0=$SECONDS
    log "1/4 torch and torchvision"
    pip_install -q "${torch_pins[@]}"
    log "2/4 build tools"
    pip_install -q "${build_pins[@]}"
    log "3/4 ${mmcv_pins[0]} with compiled ops (about 10 minutes on 2 cores the first time; pip caches the wheel)"
    export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    if [ "$with_cuda" = 1 ]; then
        archs="$(check_build cuda-toolchain)"
        export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$archs}"
        log "   GPU found: building CUDA ops for compute capability $TORCH_CUDA_ARCH_LIST" \
            "(232 s on 16 cores for one architecture)"
    fi
    if [ "$rebuild_mmcv" = 1 ]; then
        log "   rebuilding: uninstalling mmcv-full and removing its cached wheel"
        "$venv/bin/python" -m pip uninstall -q -y "${mmcv_pins[0]%%==*}" || true
        "$venv/bin/python" -m pip cache remove "$(echo "${mmcv_pins[0]%%==*}" | tr - _)" >/dev/null
    fi
    pip_install -q --no-build-isolation "${mmcv_pins[@]}"
    ops_checked="$(check_build ops --device "$ops_device")"
    log "$ops_checked"
    log "4/4 $host and its runtime dependencies"
    pip_install -q --no-build-isolation "${stack_pins[@]}"
    echo "$stamp_text" > "$stamp"
    log "stack installed in $((SECONDS - t0)) s"
fi

pip_install -q --no-deps --no-build-isolation -e "$here"
"$venv/bin/python" -c "$ready"
