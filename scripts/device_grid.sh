#!/usr/bin/env bash
# Run a distillation grid on a lent GPU machine (the device tool), whose working tree is this checkout plus
# runs/device (python -m experiments.device_bundle pack), runs/exp/<corpus> and runs/exp/<teacher>.
#
#   bash scripts/device_grid.sh GRID MAX_RUNS WORKERS THREADS DEADLINE_S [CHECK_S]
#
# The grid runs detached (setsid), so a later call on the same warm machine can still collect it. Every 20 s
# the finished runs' results, the logs and the progress so far are packed into $OUT/runs.tgz (what comes back
# even when the call is cut off). At CHECK_S seconds, if the slowest run's pace would not reach its last step
# by DEADLINE_S (less a measuring allowance), the runs of the highest seeds are stopped so the others can
# finish: fewer seeds that finish beat more that do not. They are reported as stopped, never as results.
set -u
GRID=$1 MAX_RUNS=$2 WORKERS=$3 THREADS=$4 DEADLINE=$5 CHECK=${6:-90}
PY=${PYTHON:-python3}
MEASURE_ALLOWANCE=${MEASURE_ALLOWANCE:-100}
CONFIG=${CONFIG:-experiments/distillation.yaml}
RUNS=${RUNS:-runs/experiments} RESULTS=${RESULTS:-docs/results}  # the config's output_dir and results_dir
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT" runs "$RUNS"
log() { echo "[device_grid $(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s] $*" | tee -a "$OUT/progress.txt"; }
START=$(date +%s)
if ls runs/device/whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile runs/device/whl/*.whl || { log "wheel install failed"; exit 1; }
fi
"$PY" -m experiments.device_bundle unpack || { log "unpack failed"; exit 1; }
# preflight: what every run imports (training, a teacher, the transforms, the measures), before any device time
# goes into runs that would fail at their first import
if ! preflight=$("$PY" -c "import train, data_builders.kg_teacher, experiments.teacher_transforms, experiments.measures" 2>&1); then
  log "preflight import failed: $(echo "$preflight" | tail -1)"; exit 1
fi
log "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
log "$("$PY" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__)' 2>&1)"
log "nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
PYTHONUNBUFFERED=1 setsid nohup "$PY" -m experiments.distillation "$CONFIG" --grid "$GRID" \
  --output-dir "$RUNS" --results-dir "$RESULTS" --workers "$WORKERS" --threads "$THREADS" --max-runs "$MAX_RUNS" > runs/device_grid.log 2>&1 < /dev/null &
GRID_PID=$!

steps_of() { grep -ao "train: [0-9]*/[0-9]* step" "$1/train.log" 2>/dev/null | tail -1 | sed 's/train: \([0-9]*\)\/\([0-9]*\) step/\1 \2/'; }
collect() {
  local logs
  logs=$(ls "$RUNS"/*/train.log "$RUNS"/*/measures.log "$RUNS"/*/settings.json 2>/dev/null)
  tar czf "$OUT/runs.tgz.partial" runs/device_grid.log $logs $(ls -d "$RESULTS"/runs/"$GRID" "$RESULTS"/distillation-"$GRID"* 2>/dev/null) 2>/dev/null
  mv "$OUT/runs.tgz.partial" "$OUT/runs.tgz"
}
checked=0
while kill -0 "$GRID_PID" 2>/dev/null; do
  sleep 20
  now=$(( $(date +%s) - START ))
  status=""
  for dir in "$RUNS"/*/; do
    [ -f "$dir/train.log" ] || continue
    status="$status $(basename "$dir"):$(steps_of "$dir" | tr ' ' '/')"
  done
  log "runs$status; gpu $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null); load $(cut -d' ' -f1-3 /proc/loadavg)"
  collect
  if [ "$checked" = 0 ] && [ "$now" -ge "$CHECK" ]; then
    late=$("$PY" scripts/device_pace.py "$now" "$DEADLINE" "$MEASURE_ALLOWANCE" "$RUNS")
    case "$late" in
      WAIT) ;;
      OK*) checked=1; log "pace check: every run should finish by ${DEADLINE}s (the slowest needs ${late#OK }s more)" ;;
      *) checked=1; log "pace check: not every run would finish by ${DEADLINE}s; stopping the highest seed's runs: $late"
         for name in $late; do
           for pid in $(pgrep -f "$RUNS/$name/model"); do kill "$pid" 2>/dev/null; done
         done ;;
    esac
  fi
  if [ "$now" -ge "$DEADLINE" ]; then log "deadline reached; the grid keeps running detached"; break; fi
done
kill -0 "$GRID_PID" 2>/dev/null || log "grid finished"
collect
tail -5 runs/device_grid.log
