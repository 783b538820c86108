import os

os.environ.setdefault("CUPY_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".cache", "cupy"))

from autograd_gpu.testing.devices import test_devices  # noqa: E402

DEVICES = test_devices()


def pytest_report_header(config):
    return f"autograd_gpu test devices: {', '.join(DEVICES)}"
