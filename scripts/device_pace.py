"""Pace check of scripts/device_grid.sh: will every run of a grid reach its last step by the deadline?

    python scripts/device_pace.py NOW_S DEADLINE_S ALLOWANCE_S RUNS_DIR

Prints WAIT while a started run has printed no progress line yet (nor failed); ``OK <seconds>`` when the slowest run, at
its pace so far, finishes training ``ALLOWANCE_S`` (its measuring) before the deadline; otherwise the run ids
of the highest seed (there is more than one seed), the runs to stop so that the others can finish.
"""

import json
import re
import sys
from pathlib import Path

PROGRESS = re.compile(r"train: (\d+)/(\d+) step \(\d+%\), (\d+) s")


def main(now: float, deadline: float, allowance: float, runs_dir: str) -> str:
    runs, waiting = [], False
    for run in sorted(Path(runs_dir).glob("*/")):
        if not (run / "settings.json").is_file():
            continue
        log = (run / "train.log").read_text(errors="ignore") if (run / "train.log").is_file() else ""
        hits = PROGRESS.findall(log)
        if not hits:  # not started printing yet (a finished run has its weights; a failed one, a traceback)
            failed = "Traceback (most recent call last)" in log
            waiting = waiting or not (failed or (run / "model" / "model.safetensors").is_file())
            continue
        done, total, secs = (int(x) for x in hits[-1])
        seed = json.loads((run / "settings.json").read_text())["seed"]
        runs.append((seed, run.name, done, total, max(secs, 1)))
    if waiting or not runs:
        return "WAIT"
    need = max((total - done) / max(done / secs, 1e-9) for _, _, done, total, secs in runs)
    seeds = {seed for seed, *_ in runs}
    if now + need + allowance > deadline and len(seeds) > 1:
        return " ".join(name for seed, name, *_ in runs if seed == max(seeds))
    return f"OK {need:.0f}"


if __name__ == "__main__":
    print(main(float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
