"""GPU cases for bench/run.py (only imported when --devices includes cuda and a GPU is present).

Times with CUDA events on the current stream; reports achieved GB/s of the fused elementwise kernels against
the measured device-to-device copy bandwidth, and PyTorch CUDA side by side when it is installed with CUDA.
"""
from __future__ import annotations

import statistics


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


def copy_bandwidth(n=1 << 26):
    """Device-to-device copy GB/s (read + write) of a 256 MB float32 buffer."""
    cp = _cupy()
    a = cp.empty(n, dtype=cp.float32)
    b = cp.empty_like(a)
    t = statistics.median(_event_time(lambda: b.__setitem__(Ellipsis, a)) for _ in range(5))
    return 2 * a.nbytes / t / 1e9


def run_gpu_cases(names, libs, rounds):
    import autograd_gpu as ag
    import cases as C
    if not ag.cuda.is_available():
        print("cuda: no GPU available, GPU cases skipped")
        return []
    libs = [lib for lib in libs if lib != "numpy"]
    try:
        import torch
        if not torch.cuda.is_available():
            libs = [lib for lib in libs if lib != "torch"]
    except ImportError:
        libs = [lib for lib in libs if lib != "torch"]
    bw = copy_bandwidth()
    print(f"cuda: device-to-device copy bandwidth {bw:.0f} GB/s")
    results = []
    for name in names:
        builder = C.CASES[name]
        med = {}
        for lib in libs:
            try:
                fn = builder(lib, "cuda")
            except Exception as e:
                print(f"  {name}/{lib} on cuda: unavailable ({type(e).__name__}: {e})")
                continue
            if fn is None:
                continue
            if lib == "torch":
                import torch
                ts = []
                for _ in range(rounds):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    fn()
                    s.record()
                    for _ in range(20):
                        fn()
                    e.record()
                    torch.cuda.synchronize()
                    ts.append(s.elapsed_time(e) / 1e3 / 20)
            else:
                ts = [_event_time(fn) for _ in range(rounds)]
            med[lib] = statistics.median(ts)
        ratio = {"torch": med["autograd_gpu"] / med["torch"]} if "torch" in med and "autograd_gpu" in med else {}
        row = {"case": name, "device": "cuda", "median_s": med, "ratio": ratio, "rounds": rounds}
        if name.endswith("_16M") and "autograd_gpu" in med:
            gbs = 2 * 4 * (1 << 24) / med["autograd_gpu"] / 1e9  # read x, write y (float32)
            row["gb_per_s"], row["fraction_of_copy_bw"] = gbs, gbs / bw
            print(f"{name}: {gbs:.0f} GB/s = {100 * gbs / bw:.0f}% of copy bandwidth (target >= 85%)")
        results.append(row)
        print(f"{name:28s} cuda " + "  ".join(f"{k}={v * 1e6:.1f} us" for k, v in med.items()))
    return results
