"""Every kernel in kernels/ once more, built with AddressSanitizer, on the emulated CUDA device.

An out-of-bounds read or write in any kernel (an off-by-one in a grid-stride loop, a shared-memory index
past the block) aborts the child process with an ASan report, failing this test. The interpreter is not
instrumented, so libasan is preloaded and only the kernels' shared objects are checked.
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="AddressSanitizer preload is Linux-only")
def test_all_kernels_clean_under_address_sanitizer():
    from autograd_gpu.testing.devices import test_devices
    if "cuda_emulated" not in test_devices():
        pytest.skip("the emulated CUDA device needs g++")
    cxx = os.environ.get("CXX", "g++")
    libasan = subprocess.run([cxx, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(libasan) or not os.path.exists(libasan):
        pytest.skip("libasan is not installed")
    env = dict(os.environ, AUTOGRAD_GPU_TEST_DEVICES="cuda_emulated", AUTOGRAD_GPU_EMU_SANITIZE="address",
               LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
    # the NVRTC gate is not repeated here (it does not execute anything)
    r = subprocess.run([sys.executable, "-m", "pytest", os.path.join(HERE, "test_kernels.py"), "-q", "-x",
                        "-p", "no:cacheprovider", "-p", "no:xdist", "-k", "not compiles"],
                       env=env, capture_output=True, text=True, cwd=os.path.dirname(HERE))
    out = r.stdout + r.stderr
    assert "AddressSanitizer" not in out, out[-4000:]
    assert r.returncode == 0, out[-4000:]
    assert " passed" in r.stdout
