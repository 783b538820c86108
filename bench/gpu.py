"""GPU cases for bench/run.py (imported when --devices names a CUDA device), and issue #6's GPU targets.

On ``cuda`` (a real GPU): times with CUDA events on the current stream, PyTorch CUDA side by side when it is
installed with CUDA; achieved GB/s of the fused elementwise kernels against the measured device-to-device
copy bandwidth; kernel launches per step counted by PyTorch's profiler (CUPTI sees every kernel in the
process, CuPy's included), for both libraries.

On ``cuda_emulated`` (no GPU; the kernels' CUDA source runs on the CPU): autograd_gpu alone, wall time (not a
GPU's), and launches counted at autograd_gpu's kernel factory (testing.count_launches: its own kernels, not
CuPy's array operations). It exists so this file's code runs in the tests; its numbers say nothing of speed.
"""
from __future__ import annotations

import statistics
import time

LAUNCH_STEPS = 5  # steps per launch count (the count is per step; every step launches the same kernels)
BANDWIDTH_CASES = ("sigmoid_16M", "gelu_16M")  # read x, write y: 2 x 4 bytes per element (float32)
# issue #6, item 3: (what, bound); checked in gpu_target_rows
COPY_BW_FRACTION, SOFTMAX_CE_VS_TORCH, OPTIM_LAUNCHES = 0.85, 1.2, 1


def _cupy():
    from autograd_gpu.backend import _cupy as c
    return c.import_cupy()


def _event_time(fn, reps=20):
    cp = _cupy()
    fn()
    cp.cuda.runtime.deviceSynchronize()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return cp.cuda.get_elapsed_time(start, end) / 1e3 / reps


def _torch_event_time(fn, reps=20):
    import torch
    fn()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / 1e3 / reps


def _wall_time(fn, reps=3):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def copy_bandwidth(n=1 << 26):
    """Device-to-device copy GB/s (read + write) of a 256 MB float32 buffer."""
    cp = _cupy()
    a = cp.empty(n, dtype=cp.float32)
    b = cp.empty_like(a)
    t = statistics.median(_event_time(lambda: b.__setitem__(Ellipsis, a)) for _ in range(5))
    return 2 * a.nbytes / t / 1e9


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def kernels_per_step(fn, device, steps=LAUNCH_STEPS):
    """(launches per call of fn, how they were counted), or (None, why not)."""
    if device == "cuda_emulated":
        from autograd_gpu.testing.launches import count_launches
        fn()
        with count_launches() as n:
            for _ in range(steps):
                fn()
        return n.total / steps, "autograd_gpu's kernel factory"
    torch = _torch_cuda()
    if torch is None:
        return None, "needs PyTorch with CUDA (its profiler counts the kernels)"
    from torch.profiler import ProfilerActivity, profile
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            fn()
        torch.cuda.synchronize()
    kernels = [e for e in prof.profiler.kineto_results.events() if e.activity_type() == "kernel"]
    return len(kernels) / steps, "CUPTI (torch.profiler), every kernel in the process"


def run_gpu_cases(names, libs, rounds, device="cuda"):
    import autograd_gpu as ag
    import cases as C
    if device == "cuda" and not ag.cuda.is_available():
        print("cuda: no GPU available, GPU cases skipped")
        return []
    libs = [lib for lib in libs if lib != "numpy"]
    if device != "cuda" or _torch_cuda() is None:
        libs = [lib for lib in libs if lib != "torch"]
    bw = None
    if device == "cuda":
        bw = copy_bandwidth()
        print(f"cuda: device-to-device copy bandwidth {bw:.0f} GB/s")
    results = []
    for name in names:
        builder = C.CASES[name]
        med, launches, counted_by = {}, {}, None
        for lib in libs:
            try:
                fn = builder(lib, device)
            except Exception as e:
                print(f"  {name}/{lib} on {device}: unavailable ({type(e).__name__}: {e})")
                continue
            if fn is None:
                continue
            timer = _wall_time if device != "cuda" else _torch_event_time if lib == "torch" else _event_time
            med[lib] = statistics.median(timer(fn) for _ in range(rounds))
            launches[lib], counted_by = kernels_per_step(fn, device)
        if "autograd_gpu" not in med:
            continue
        ratio = {"torch": med["autograd_gpu"] / med["torch"]} if "torch" in med else {}
        row = {"case": name, "device": device, "median_s": med, "ratio": ratio, "rounds": rounds,
               "launches_per_step": launches, "launches_counted_by": counted_by}
        if name in BANDWIDTH_CASES and bw:
            gbs = 2 * 4 * (1 << 24) / med["autograd_gpu"] / 1e9
            row["gb_per_s"], row["fraction_of_copy_bw"] = gbs, gbs / bw
        results.append(row)
        counts = ", ".join(f"{k}={'-' if v is None else f'{v:g}'}" for k, v in launches.items())
        print(f"{name:28s} {device} " + "  ".join(f"{k}={v * 1e6:.1f} us" for k, v in med.items()) +
              f"  launches/step {counts}")
    for line in gpu_target_rows(results):
        print(" | ".join(line))
    return results


def gpu_target_rows(results):
    """[(target, bound, measured, verdict)] for issue #6's GPU targets found in ``results``."""
    rows = []
    for r in results:
        if r["device"] == "cpu":
            continue
        case, dev = r["case"], r["device"]
        frac = r.get("fraction_of_copy_bw")
        if frac is not None:
            rows.append((f"{case} ({dev}): share of copy bandwidth", f">= {COPY_BW_FRACTION:.0%}",
                         f"{frac:.0%} ({r['gb_per_s']:.0f} GB/s)", _verdict(frac >= COPY_BW_FRACTION)))
        if case == "softmax_ce_4096x1000" and "torch" in r["ratio"]:
            v = r["ratio"]["torch"]
            rows.append((f"{case} ({dev}) vs torch", f"<= {SOFTMAX_CE_VS_TORCH:.1f}x", f"{v:.2f}x",
                         _verdict(v <= SOFTMAX_CE_VS_TORCH)))
        n = r.get("launches_per_step", {})
        ours, theirs = n.get("autograd_gpu"), n.get("torch")
        if ours is None:
            continue
        how = r.get("launches_counted_by") or "-"
        if case.startswith("sgd_step"):
            rows.append((f"{case} ({dev}): kernel launches per optimizer step [{how}]", f"= {OPTIM_LAUNCHES}",
                         f"{ours:g}", _verdict(ours == OPTIM_LAUNCHES)))
        elif case.startswith("mlp_") and theirs is not None:
            rows.append((f"{case} ({dev}): kernel launches per step [{how}]", f"<= torch's {theirs:g}",
                         f"{ours:g}", _verdict(ours <= theirs)))
    return rows


def _verdict(ok: bool) -> str:
    return "holds" if ok else "misses"
