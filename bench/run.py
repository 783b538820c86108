"""Benchmark autograd_gpu against PyTorch and hand-written NumPy, side by side.

    python bench/run.py                      # all cases, cpu, one thread, plus import cost
    python bench/run.py --cases tutorial_iter,mlp_32x784-128-10 --rounds 15
    python bench/run.py --mode separate      # each library in its own process, default threads
    python bench/run.py --devices cpu,cuda   # GPU cases too (CUDA events, launch counts) on a GPU
    python bench/run.py --root ../other-checkout --out /tmp/before   # bench another tree (before/after)

Writes bench/results/latest.{json,md,png}. Ratios are medians of per-round paired ratios
(autograd_gpu time / other time, same round), so drifting machine load cancels out. With one thread per
library the clock is the process CPU time (on a shared machine wall time mostly measures waiting for a
core); the load average is recorded with every case. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some
machines for old OpenBLAS builds; they slow a current NumPy) are dropped for the run unless --keep-blas-env,
and the BLAS kernel actually loaded (threadpoolctl) is recorded.
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
_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _root_from_argv(argv) -> str:
    for i, arg in enumerate(argv):
        if arg == "--root" and i + 1 < len(argv):
            return os.path.abspath(argv[i + 1])
        if arg.startswith("--root="):
            return os.path.abspath(arg.split("=", 1)[1])
    return os.path.dirname(HERE)


ROOT = _root_from_argv(sys.argv)
if ROOT not in sys.path:  # run from a checkout without installing: bench the tree it sits in (or --root)
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
    """Peak traced allocation (bytes) of one step (NumPy and autograd_gpu arrays are traced, torch's not)."""
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
    """Seconds to import and RSS (MB) after import, each library in a fresh interpreter (median of 5).

    Measured as an installed package runs: with compiled bytecode cached (in a private pycache prefix, so
    even under PYTHONDONTWRITEBYTECODE nothing is written into the tree); the time without cached bytecode
    (every module compiled) is recorded too, as import_s_nopyc."""
    import tempfile
    out = {}
    # VmRSS (current), not ru_maxrss: Linux carries ru_maxrss across exec, so a child started from a big
    # parent would report the parent's peak.
    code = ("import sys;sys.path.insert(0, {root!r});import time;t=time.perf_counter();import {m};"
            "dt=time.perf_counter()-t;"
            "rss=[l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1];"
            "print(dt, int(rss)/1024, int('scipy' in sys.modules), int('cupy' in sys.modules))")
    with tempfile.TemporaryDirectory() as cache:
        warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        warm["PYTHONPYCACHEPREFIX"] = cache
        cold = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        cold.pop("PYTHONPYCACHEPREFIX", None)
        for mod in ("numpy", "autograd_gpu", "torch"):
            cmd = [sys.executable, "-c", code.format(m=mod, root=ROOT)]
            if subprocess.run(cmd, capture_output=True, text=True, env=warm).returncode:
                continue  # not installed (the first run also fills the bytecode cache)
            samples, nopyc = [], []
            for _ in range(5):
                r = subprocess.run(cmd, capture_output=True, text=True, env=warm)
                dt, rss, scipy, cupy = map(float, r.stdout.split())
                samples.append((dt, rss, scipy, cupy))
                if mod == "autograd_gpu":
                    r = subprocess.run(cmd, capture_output=True, text=True, env=cold)
                    nopyc.append(float(r.stdout.split()[0]))
            out[mod] = {"import_s": statistics.median(s[0] for s in samples),
                        "rss_mb": statistics.median(s[1] for s in samples),
                        "imports_scipy": bool(samples[0][2]), "imports_cupy": bool(samples[0][3])}
            if nopyc:
                out[mod]["import_s_nopyc"] = statistics.median(nopyc)
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


# issue #6: (case, other library, bound on autograd_gpu time / other time), cpu, one thread
TARGETS = [("tutorial_iter", "torch", 0.4), ("mlp_256x784-1024-1024-10", "torch", 1.0),
           ("mlp_256x784-1024-1024-10", "numpy", 1.1), ("mlp_32x784-128-10", "torch", 0.8)]
IMPORT_TARGETS = {"rss_mb": 60.0, "import_s": 0.3}


def _fmt_ratio(r):
    return "-" if r is None or r != r else f"{r:.2f}x"  # (no hand-written NumPy for a case: "-", not "nanx")


def _meta_lines(meta):
    out = []
    blas = meta.get("blas") or {}
    for b in blas.get("numpy_blas", []):  # every BLAS loaded by the end of the run (NumPy's, SciPy's, ...)
        lib = os.path.basename(b.get("filepath") or "")
        out.append(f"BLAS loaded (NumPy {blas.get('numpy')}): {b.get('internal_api')} {b.get('version')} "
                   f"({lib}), kernel {b.get('architecture')}, {b.get('num_threads')} thread(s)")
    if blas.get("dropped_env"):
        out.append("Dropped for this run: " + ", ".join(f"{k}={v}" for k, v in blas["dropped_env"].items()))
    elif any(blas.get("env", {}).values()):
        out.append("Kept: " + ", ".join(f"{k}={v}" for k, v in blas["env"].items() if v))
    tinfo = meta.get("torch")
    if tinfo:
        out.append(f"torch {tinfo['version']} ({tinfo['threads']} thread(s), MKL {tinfo['mkl']}, "
                   f"oneDNN {tinfo['mkldnn']})")
    if meta.get("root"):
        out.append(f"autograd_gpu from {meta['root']}")
    return [""] + out if out else out


def _target_lines(results, meta):
    if "1 thread" not in meta.get("threads", ""):
        return []
    by_case = {r["case"]: r for r in results if r["device"] == "cpu"}
    out = []
    for case, other, bound in TARGETS:
        r = by_case.get(case)
        if r is None or other not in r["ratio"]:
            continue
        v = r["ratio"][other]
        verdict = "holds" if v <= bound else "misses"
        out.append(f"| {case} vs {other} | <= {bound:.2f}x | {v:.2f}x | {verdict} |")
    imp = (meta.get("import") or {}).get("autograd_gpu")
    if imp:
        for k, bound in IMPORT_TARGETS.items():
            v = imp[k]
            unit = "MB" if k == "rss_mb" else "s"
            out.append(f"| import autograd_gpu: {'RSS' if k == 'rss_mb' else 'time'} | <= {bound:g} {unit} | "
                       f"{v:.3g} {unit} | {'holds' if v <= bound else 'misses'} |")
    if out:
        out = ["", "Targets (issue #6):", "", "| target | bound | measured | |", "|---|---|---|---|"] + out
    return out


def _gpu_lines(results):
    """Launch counts and issue #6's GPU targets, for the rows of CUDA devices."""
    from gpu import gpu_target_rows
    out = []
    counted = [r for r in results if r.get("launches_per_step")]
    if counted:
        out += ["", "CUDA devices: cuda rows are CUDA event times; cuda_emulated rows are the wall time of "
                "the CPU emulation (they test this report, not a GPU's speed). Kernel launches per step:", "",
                "| case | device | autograd_gpu | torch | counted by |", "|---|---|---|---|---|"]
        for r in counted:
            n = r["launches_per_step"]
            ours, theirs = ("-" if n.get(k) is None else f"{n[k]:g}" for k in ("autograd_gpu", "torch"))
            how = r.get("launches_counted_by") or "-"
            out.append(f"| {r['case']} | {r['device']} | {ours} | {theirs} | {how} |")
    rows = gpu_target_rows(results)
    if rows:
        out += ["", "GPU targets (issue #6):", "", "| target | bound | measured | |", "|---|---|---|---|"]
        out += [f"| {' | '.join(row)} |" for row in rows]
    return out


def write_reports(results, meta, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    lines = [f"Machine: {meta['machine']}; {meta['mode']}; {meta['threads']}; "
             f"clock: {meta.get('clock', '-')}; {meta['date']}"]
    lines += _meta_lines(meta)
    lines += ["", "| case | device | autograd_gpu | torch | numpy (hand) | ag/torch | ag/numpy "
              "| peak MB ag / np | load |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        med, rat, mem = r["median_s"], r["ratio"], r.get("peak_bytes", {})
        pm = " / ".join("-" if mem.get(k) is None else f"{mem[k] / 2**20:.1f}"
                        for k in ("autograd_gpu", "numpy"))
        load = r.get("load")
        ld = "-" if not load else f"{load[0]:.1f}-{load[1]:.1f}"
        lines.append(f"| {r['case']} | {r['device']} | {_fmt_t(med.get('autograd_gpu'))} | "
                     f"{_fmt_t(med.get('torch'))} | {_fmt_t(med.get('numpy'))} | "
                     f"{_fmt_ratio(rat.get('torch'))} | {_fmt_ratio(rat.get('numpy'))} | {pm} "
                     f"| {ld} |")
    lines += _target_lines(results, meta)
    lines += _gpu_lines(results)
    if meta.get("import"):
        lines += ["", "Import in a fresh interpreter, bytecode cached (median of 5; without cached bytecode "
                  "in parentheses):", "",
                  "| library | import time | RSS after import | scipy / cupy imported |",
                  "|---|---|---|---|"]
        for m, v in meta["import"].items():
            nopyc = f" ({v['import_s_nopyc'] * 1e3:.0f} ms)" if "import_s_nopyc" in v else ""
            lines.append(f"| {m} | {v['import_s'] * 1e3:.0f} ms{nopyc} | {v['rss_mb']:.0f} MB | "
                         f"{'yes' if v.get('imports_scipy') else 'no'} / "
                         f"{'yes' if v.get('imports_cupy') else 'no'} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(md)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = [f"{r['case']}\n({r['device']})" for r in results]
        fig, ax = plt.subplots(figsize=(max(6, len(names) * 1.3), 4.8))
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [r["ratio"].get("torch", 0) for r in results], 0.4, label="vs torch")
        ax.bar([x + 0.2 for x in xs], [r["ratio"].get("numpy", 0) for r in results], 0.4,
               label="vs numpy (hand)")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(list(xs), names, fontsize=7, rotation=25, ha="right")
        ax.set_ylabel("autograd_gpu time / other time (lower is better)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "latest.png"), dpi=110)
    except ImportError:
        pass
    return md


def _blas_info():
    """The BLAS libraries NumPy loaded (threadpoolctl), and the OpenBLAS variables in effect."""
    info = {"env": {k: os.environ.get(k) for k in _BLAS_ENV},
            "dropped_env": json.loads(os.environ.get("AG_BENCH_DROPPED_BLAS_ENV", "{}"))}
    try:
        import numpy
        import threadpoolctl
        info["numpy"] = numpy.__version__
        keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
        info["numpy_blas"] = [{k: d.get(k) for k in keys}
                              for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        pass
    return info


def _torch_info(torch):
    return {"version": torch.__version__, "threads": torch.get_num_threads(),
            "mkl": bool(torch.backends.mkl.is_available()),
            "mkldnn": bool(torch.backends.mkldnn.is_available())}


def _reexec_without_blas_env(argv):
    """Run this command again without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (read once, at NumPy's load)."""
    dropped = {k: os.environ[k] for k in _BLAS_ENV if k in os.environ}
    if not dropped:
        return
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_ENV}
    env["AG_BENCH_DROPPED_BLAS_ENV"] = json.dumps(dropped)
    print(f"bench: running without {', '.join(dropped)} (see --keep-blas-env)", file=sys.stderr, flush=True)
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + list(argv), env)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="all")
    p.add_argument("--devices", default="cpu")
    p.add_argument("--libs", default="autograd_gpu,torch,numpy")
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--threads", default="1", help="'1' (default) or 'default'")
    p.add_argument("--mode", default="together", choices=("together", "separate"))
    p.add_argument("--clock", default=None, choices=tuple(CLOCKS),
                   help="'cpu' (process CPU time; default with one thread) or 'wall' (default otherwise)")
    p.add_argument("--root", default=ROOT, help="the checkout whose autograd_gpu is benchmarked")
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if set (default: drop them for the run)")
    p.add_argument("--no-import", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if not a.keep_blas_env:
        _reexec_without_blas_env(argv)
    if a.mode == "separate":
        a.threads = "default"  # (the per-library processes run with their default thread counts)
    _limit_threads(1 if a.threads == "1" else None)
    if a.clock is None:
        a.clock = "cpu" if a.threads == "1" else "wall"
    _clock[0] = CLOCKS[a.clock]
    sys.path.insert(0, HERE)
    import cases as C
    names = list(C.CASES) if a.cases == "all" else a.cases.split(",")
    libs = a.libs.split(",")
    torch_info = None
    if "torch" in libs:
        try:
            import torch
            if a.threads == "1":
                torch.set_num_threads(1)
            torch_info = _torch_info(torch)
        except ImportError:
            libs = [x for x in libs if x != "torch"]
    results = []
    for dev in a.devices.split(","):
        if dev != "cpu":
            from gpu import run_gpu_cases
            results += run_gpu_cases(names, libs, a.rounds, dev)
            continue
        for name in names:
            load0 = os.getloadavg()[0]
            if a.mode == "separate":
                times = _separate(name, libs, a.rounds, a)
            else:
                times = run_case(name, C.CASES[name], libs, dev, a.rounds)
            med, rat = summarize(times)
            mem = ({lib: _peak_memory(C.CASES[name], lib, dev) for lib in times}
                   if a.mode == "together" else {})
            load = (load0, os.getloadavg()[0])
            results.append({"case": name, "device": dev, "median_s": med, "ratio": rat, "peak_bytes": mem,
                            "rounds": a.rounds, "load": load, "times_s": times})
            print(f"{name:28s} " + "  ".join(f"{k}={_fmt_t(v)}" for k, v in med.items()) + "  " +
                  "  ".join(f"ag/{k}={v:.2f}x" for k, v in rat.items()) +
                  f"  (load {load[0]:.1f}->{load[1]:.1f})",
                  flush=True)
    if a.json_only:
        print("JSON:" + json.dumps(results))
        return
    meta = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"python {platform.python_version()}",
            "mode": "one process, libraries interleaved" if a.mode == "together" else
                    "each library in its own process, alternated",
            "threads": "1 thread per library" if a.threads == "1" else "default threads",
            "clock": "process CPU time" if a.clock == "cpu" else "wall time",
            "root": a.root, "blas": _blas_info(), "torch": torch_info,
            "date": time.strftime("%Y-%m-%d %H:%M"), "import": None if a.no_import else import_cost()}
    print(write_reports(results, meta, a.out))


def _separate(name, libs, rounds, a):
    """Each library in its own process with default threads, processes alternated round by round."""
    times = {lib: [] for lib in libs}
    for r in range(rounds):
        for lib in libs:
            cmd = [sys.executable, os.path.abspath(__file__), "--cases", name, "--libs", lib, "--rounds", "1",
                   "--threads", "default", "--clock", a.clock, "--root", a.root, "--no-import", "--json-only"]
            if a.keep_blas_env:
                cmd.append("--keep-blas-env")
            out = subprocess.run(cmd, capture_output=True, text=True)
            for line in out.stdout.splitlines():
                if line.startswith("JSON:"):
                    res = json.loads(line[5:])
                    if res and lib in res[0]["median_s"]:
                        times[lib].append(res[0]["median_s"][lib])
    return {k: v for k, v in times.items() if v}


if __name__ == "__main__":
    main()
