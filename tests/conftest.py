import os
import threading

os.environ.setdefault("CUPY_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".cache", "cupy"))

from autograd_gpu.testing.devices import test_devices  # noqa: E402

DEVICES = test_devices()


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
