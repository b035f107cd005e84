#!/usr/bin/env bash
# Every physgen benchmark on a GPU machine, in about 5 minutes; results (JSON + Markdown, one pair per
# benchmark, named *_cuda) and logs under $OUT. Run from the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu/run_benchmarks.sh
#
# Then copy $OUT/results/*_cuda.{json,md} into benchmarks/results/ and run `physgen bench --collect-only`
# to paste them into the README. DEVICE=cpu TINY=1 runs the same script at toy sizes on a CPU (a smoke
# test of the script itself; its results are meaningless). Each benchmark has a time limit, so one that
# hangs cannot eat the others' time; status.txt lists the exit code of each (124 = hit its limit).
set -u
OUT=${OUT:-$PWD/gpu_benchmarks}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python}
export PHYSGEN_BENCH_RESULTS="$OUT/results"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$PHYSGEN_BENCH_RESULTS"
: > "$OUT/status.txt"

run() {  # name, time limit (s), script arguments...
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$PY" "$@" > "$OUT/$name.log" 2>&1
    local code=$?
    echo "$name exit $code after $((SECONDS - start)) s (limit $limit s)" | tee -a "$OUT/status.txt"
}

{ nvidia-smi; "$PY" -c "import torch; print(torch.__version__, torch.cuda.is_available())"; nproc; } \
    > "$OUT/machine.txt" 2>&1

if [ "${TINY:-0}" = 1 ]; then
    run loader 120 benchmarks/bench_loader.py --device "$DEVICE" --events 60000 --repeats 1 --workers 0 --name "loader_$DEVICE"
    run dense_gan 900 benchmarks/bench_dense_gan.py --device "$DEVICE" --seconds 0.05 --reference-events 2 --threads 1
    run generators 300 benchmarks/bench_generators.py --device "$DEVICE" --models lagan calogan --batches 2 16 \
        --budget 0.05 --jet-events 2 --shower-events 10
    run training 300 benchmarks/bench_training.py --device "$DEVICE" --models toy_gan_circle_8 zmumu_gan17 \
        --seconds 0.2 --repeats 1 --events 2048
    run scaling 900 benchmarks/bench_scaling.py --device "$DEVICE" --stages train generate --n train=512 generate=512
    exit 0
fi

run loader 40 benchmarks/bench_loader.py --device "$DEVICE" --events 2000000 --repeats 3
run dense_gan 45 benchmarks/bench_dense_gan.py --device "$DEVICE" --seconds 0.5 --reference-events 20 --threads 1
run generators 75 benchmarks/bench_generators.py --device "$DEVICE" --budget 0.3 --jet-events 10 --shower-events 100
run training 100 benchmarks/bench_training.py --device "$DEVICE" --seconds 1 --repeats 2
run scaling 40 benchmarks/bench_scaling.py --device "$DEVICE" --stages train generate --n train=50000 generate=100000
