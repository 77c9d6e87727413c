"""Run a command and sample its resident memory (with its children) every 0.5 s.

    python bench/rss_sampler.py LOG python -m data_builders.kg_teacher ... > summary.txt

The command's output goes to LOG. Printed: the exit status, the peak RSS, when it happened and the last LOG line
at that moment (which stage was running), then about 60 evenly spaced ``seconds:GB`` samples.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        print("usage: rss_sampler.py LOG COMMAND [ARGS...]", file=sys.stderr)
        return 2
    log_path, command = Path(argv[0]), argv[1:]
    with log_path.open("w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        peak, peak_at, peak_line, series = 0, 0.0, "", []
        t0 = time.time()
        while child.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
            except psutil.Error:  # a child ended between listing and reading
                rss = 0
            now = round(time.time() - t0, 1)
            series.append((now, rss))
            if rss > peak:
                lines = log_path.read_text(errors="replace").splitlines()
                peak, peak_at, peak_line = rss, now, (lines[-1][:200] if lines else "")
            time.sleep(0.5)
    print(f"exit {child.returncode}; peak RSS {peak / 1e9:.2f} GB at t={peak_at}s; log then: {peak_line}")
    step = max(1, len(series) // 60)
    print(" ".join(f"{t:.0f}s:{r / 1e9:.2f}" for t, r in series[::step]))
    return child.returncode


if __name__ == "__main__":
    raise SystemExit(main())
