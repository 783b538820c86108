import os
import threading

os.environ.setdefault("CUPY_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".cache", "cupy"))

import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import autograd_gpu as ag  # noqa: E402
from autograd_gpu.testing.devices import test_devices  # noqa: E402

DEVICES = test_devices()


# small helpers the nn test files share
def make_tensor(a, dev="cpu", requires_grad=False, dtype=ag.float64):
    return ag.tensor(np.asarray(a), dtype=dtype, device=dev, requires_grad=requires_grad)


def host(t):
    return t.detach()._host()


def raises_exactly(exc, msg):
    """pytest.raises matching PyTorch's message literally."""
    return pytest.raises(exc, match=re.escape(msg))


def normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def assert_emulated_matches_cpu(fn, x, rtol, atol, err_msg=""):
    """fn's float32 output and input gradient (cotangent ones) on cuda_emulated (the kernels) against cpu."""
    if "cuda_emulated" not in DEVICES:
        pytest.skip("cuda_emulated not in the test devices")
    res = []
    for dev in ("cpu", "cuda_emulated"):
        xt = make_tensor(x, dev, requires_grad=True, dtype=ag.float32)
        y = fn(xt)
        y.backward(ag.ones_like(y))
        res.append((host(y), host(xt.grad)))
    for a, c in zip(*res):
        np.testing.assert_allclose(a, c, rtol=rtol, atol=atol, err_msg=err_msg)


_NVRTC_MISSING: list = []


def require_nvrtc(module_level: bool = False) -> None:
    """Skip (with why) where the NVRTC compile gate can't run: it needs the kernel-check extra (CuPy's NVRTC
    bindings, the CUDA runtime headers). .ci/run sets AUTOGRAD_GPU_REQUIRE_NVRTC: there a missing gate fails."""
    if not _NVRTC_MISSING:
        try:
            from cupy.cuda import nvrtc as lib
            lib.getVersion()
            from autograd_gpu.backend import nvrtc
            nvrtc.cuda_include_dir()
            _NVRTC_MISSING.append(None)
        except Exception as e:  # ImportError without CuPy; others when the wheels are incomplete
            _NVRTC_MISSING.append(f"{type(e).__name__}: {e}")
    why = _NVRTC_MISSING[0]
    if why is None:
        return
    msg = f"the NVRTC compile gate needs the kernel-check extra (pip install '.[kernel-check]'): {why}"
    if os.environ.get("AUTOGRAD_GPU_REQUIRE_NVRTC"):
        pytest.fail(msg)
    pytest.skip(msg, allow_module_level=module_level)


def pytest_report_header(config):
    return f"autograd_gpu test devices: {', '.join(DEVICES)}"


N_THREADS = 8


def run_in_threads(target, n=N_THREADS):
    """target(i) in n threads started together (a barrier); the first exception is re-raised here."""
    errors = []
    barrier = threading.Barrier(n)

    def wrap(i):
        try:
            barrier.wait(30)
            target(i)
        except BaseException as e:  # reported by the main thread
            errors.append((i, e))
    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    if errors:
        raise errors[0][1]
