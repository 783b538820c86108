"""Benchmark autograd_gpu against PyTorch and hand-written NumPy, side by side.

    python bench/run.py                      # all cases, cpu, one thread, plus import cost
    python bench/run.py --cases tutorial_iter,mlp_32x784-128-10 --rounds 15
    python bench/run.py --mode separate      # each library in its own process, default threads
    python bench/run.py --devices cpu,cuda   # GPU cases too (CUDA events) when a GPU is present

Writes bench/results/latest.{json,md,png}. Ratios are medians of per-round paired ratios
(autograd_gpu time / other time, same round), so drifting machine load cancels out.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:  # run from a checkout without installing: bench the tree it sits in
    sys.path.insert(0, ROOT)


def _limit_threads(n: int | None):
    if n is None:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)


# The clock: wall time, or this process's CPU time. On a shared, oversubscribed machine wall time mostly
# measures waiting for a core; with one compute thread per library the process CPU time is the step's cost.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]


def _time_block(fn, n):
    clock = _clock[0]
    t0 = clock()
    for _ in range(n):
        fn()
    return (clock() - t0) / n


def _calibrate(fn, target=0.05):
    fn()
    n = 1
    while True:
        dt = _time_block(fn, n)
        if dt * n >= target or n >= 1 << 16:
            return max(1, int(target / max(dt, 1e-9)))
        n *= 4


def run_case(name, builders, libs, device, rounds):
    """Interleave libraries round by round; returns {lib: [seconds per step per round]}."""
    steps = {}
    for lib in libs:
        try:
            fn = builders(lib, device)
        except Exception as e:  # a library lacking the feature: report, don't crash the run
            print(f"  {name}/{lib}: unavailable ({type(e).__name__}: {e})", file=sys.stderr)
            fn = None
        if fn is not None:
            steps[lib] = fn
    reps = {lib: _calibrate(fn) for lib, fn in steps.items()}
    times = {lib: [] for lib in steps}
    order = list(steps)
    for r in range(rounds):
        for lib in order[r % len(order):] + order[:r % len(order)]:
            times[lib].append(_time_block(steps[lib], reps[lib]))
    return times


def _peak_memory(builders, lib, device):
    """Peak traced allocation (bytes) of one step: NumPy and autograd_gpu arrays are traced; torch's are not."""
    if lib == "torch":
        return None
    import tracemalloc
    fn = builders(lib, device)
    if fn is None:
        return None
    fn()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def import_cost():
    """Seconds to import and RSS (MB) after import, each library in a fresh interpreter (median of 5)."""
    out = {}
    # VmRSS (current), not ru_maxrss: Linux carries ru_maxrss across exec, so a child started from a big
    # parent would report the parent's peak.
    code = ("import time;t=time.perf_counter();import {m};dt=time.perf_counter()-t;"
            "rss=[l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1];"
            "print(dt, int(rss)/1024)")
    for mod in ("numpy", "autograd_gpu", "torch"):
        samples = []
        for _ in range(5):
            r = subprocess.run([sys.executable, "-c", code.format(m=mod)], capture_output=True, text=True)
            if r.returncode:
                break
            dt, rss = map(float, r.stdout.split())
            samples.append((dt, rss))
        if samples:
            out[mod] = {"import_s": statistics.median(s[0] for s in samples),
                        "rss_mb": statistics.median(s[1] for s in samples)}
    return out


def summarize(times):
    med = {lib: statistics.median(ts) for lib, ts in times.items()}
    ratios = {}
    if "autograd_gpu" in times:
        for other in times:
            if other != "autograd_gpu":
                rs = [a / b for a, b in zip(times["autograd_gpu"], times[other])]
                ratios[other] = statistics.median(rs)
    return med, ratios


def _fmt_t(s):
    if s is None:
        return "-"
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def write_reports(results, meta, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    lines = [f"Machine: {meta['machine']}; {meta['mode']}; {meta['threads']}; {meta['date']}", "",
             "| case | device | autograd_gpu | torch | numpy (hand) | ag/torch | ag/numpy | peak MB ag / np |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        med, rat, mem = r["median_s"], r["ratio"], r.get("peak_bytes", {})
        pm = " / ".join("-" if mem.get(k) is None else f"{mem[k] / 2**20:.1f}" for k in ("autograd_gpu", "numpy"))
        lines.append(f"| {r['case']} | {r['device']} | {_fmt_t(med.get('autograd_gpu'))} | "
                     f"{_fmt_t(med.get('torch'))} | {_fmt_t(med.get('numpy'))} | "
                     f"{rat.get('torch', float('nan')):.2f}x | {rat.get('numpy', float('nan')):.2f}x | {pm} |")
    if meta.get("import"):
        lines += ["", "| library | import time | RSS after import |", "|---|---|---|"]
        for m, v in meta["import"].items():
            lines.append(f"| {m} | {v['import_s'] * 1e3:.0f} ms | {v['rss_mb']:.0f} MB |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(md)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = [f"{r['case']}\n({r['device']})" for r in results]
        fig, ax = plt.subplots(figsize=(max(6, len(names) * 1.3), 4))
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [r["ratio"].get("torch", 0) for r in results], 0.4, label="vs torch")
        ax.bar([x + 0.2 for x in xs], [r["ratio"].get("numpy", 0) for r in results], 0.4, label="vs numpy (hand)")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(list(xs), names, fontsize=7)
        ax.set_ylabel("autograd_gpu time / other time (lower is better)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "latest.png"), dpi=110)
    except ImportError:
        pass
    return md


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="all")
    p.add_argument("--devices", default="cpu")
    p.add_argument("--libs", default="autograd_gpu,torch,numpy")
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--threads", default="1", help="'1' (default) or 'default'")
    p.add_argument("--mode", default="together", choices=("together", "separate"))
    p.add_argument("--clock", default=None, choices=tuple(CLOCKS),
                   help="'cpu' (process CPU time; default with one thread) or 'wall' (default otherwise)")
    p.add_argument("--no-import", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    _limit_threads(1 if a.threads == "1" else None)
    if a.clock is None:
        a.clock = "cpu" if a.threads == "1" else "wall"
    _clock[0] = CLOCKS[a.clock]
    sys.path.insert(0, HERE)
    import cases as C
    names = list(C.CASES) if a.cases == "all" else a.cases.split(",")
    libs = a.libs.split(",")
    try:
        import torch
        if a.threads == "1":
            torch.set_num_threads(1)
    except ImportError:
        libs = [x for x in libs if x != "torch"]
    results = []
    for dev in a.devices.split(","):
        if dev != "cpu":
            from gpu import run_gpu_cases
            results += run_gpu_cases(names, libs, a.rounds)
            continue
        for name in names:
            if a.mode == "separate":
                times = _separate(name, libs, a.rounds)
            else:
                times = run_case(name, C.CASES[name], libs, dev, a.rounds)
            med, rat = summarize(times)
            mem = {lib: _peak_memory(C.CASES[name], lib, dev) for lib in times} if a.mode == "together" else {}
            results.append({"case": name, "device": dev, "median_s": med, "ratio": rat, "peak_bytes": mem,
                            "rounds": a.rounds})
            print(f"{name:28s} " + "  ".join(f"{k}={_fmt_t(v)}" for k, v in med.items()) + "  " +
                  "  ".join(f"ag/{k}={v:.2f}x" for k, v in rat.items()), flush=True)
    if a.json_only:
        print("JSON:" + json.dumps(results))
        return
    meta = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"python {platform.python_version()}",
            "mode": "one process, libraries interleaved" if a.mode == "together" else
                    "each library in its own process, alternated",
            "threads": "1 thread per library" if a.threads == "1" else "default threads",
            "date": time.strftime("%Y-%m-%d"), "import": None if a.no_import else import_cost()}
    print(write_reports(results, meta, a.out))


def _separate(name, libs, rounds):
    """Each library in its own process with default threads, processes alternated round by round."""
    times = {lib: [] for lib in libs}
    for r in range(rounds):
        for lib in libs:
            cmd = [sys.executable, __file__, "--cases", name, "--libs", lib, "--rounds", "1", "--threads", "default",
                   "--no-import", "--json-only"]
            out = subprocess.run(cmd, capture_output=True, text=True)
            for line in out.stdout.splitlines():
                if line.startswith("JSON:"):
                    res = json.loads(line[5:])
                    if res and lib in res[0]["median_s"]:
                        times[lib].append(res[0]["median_s"][lib])
    return {k: v for k, v in times.items() if v}


if __name__ == "__main__":
    main()
