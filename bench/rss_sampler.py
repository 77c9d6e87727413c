"""Run a command and sample its resident memory (with children) every 0.5 s; print the peak, the log line current at the peak, and the series.

    python bench/rss_sampler.py LOG python -m data_builders.kg_teacher ... > summary.txt
"""
import subprocess, sys, time, psutil
log = open(sys.argv[1], "w")
p = subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT)
proc = psutil.Process(p.pid)
peak, at, series = 0, "", []
t0 = time.time()
while p.poll() is None:
    try:
        rss = sum(x.memory_info().rss for x in [proc, *proc.children(recursive=True)])
    except psutil.Error:
        rss = 0
    series.append((round(time.time() - t0, 1), rss))
    if rss > peak:
        peak = rss
        try:
            lines = open(sys.argv[1]).read().splitlines()
            at = lines[-1][:200] if lines else ""
        except Exception:
            pass
    time.sleep(0.5)
print(f"exit {p.returncode}; peak RSS {peak/1e9:.2f} GB at t={[t for t, r in series if r == peak][0] if series else 0}s; log then: {at}")
step = max(1, len(series) // 60)
print(" ".join(f"{t:.0f}s:{r/1e9:.2f}" for t, r in series[::step]))
