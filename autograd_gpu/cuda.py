"""torch.cuda: availability, device count, synchronisation and memory statistics from CuPy's pool."""
from __future__ import annotations

from .backend import _cupy


def is_available() -> bool:
    """True when CuPy is installed and sees a GPU; False otherwise, silently."""
    return _cupy.gpu_count() > 0


def device_count() -> int:
    return _cupy.gpu_count()


def _require():
    from .backend.device import Device, check_usable
    check_usable(Device("cuda"))
    return _cupy.import_cupy()


def current_device() -> int:
    return _require().cuda.runtime.getDevice()


def set_device(device) -> None:
    from .backend.device import Device
    _require().cuda.runtime.setDevice(Device(device).index)


def get_device_name(device=None) -> str:
    cupy = _require()
    from .backend.device import Device
    idx = 0 if device is None else Device(device).index
    return cupy.cuda.runtime.getDeviceProperties(idx)["name"].decode()


def synchronize(device=None) -> None:
    """Wait for all kernels on the device to finish."""
    _require().cuda.runtime.deviceSynchronize()


def memory_allocated(device=None) -> int:
    """Bytes held by tensors in CuPy's memory pool."""
    return _require().get_default_memory_pool().used_bytes()


def memory_reserved(device=None) -> int:
    return _require().get_default_memory_pool().total_bytes()


_peak = [0]


def max_memory_allocated(device=None) -> int:
    """Peak of memory_allocated since start or reset_peak_memory_stats (sampled at each call)."""
    _peak[0] = max(_peak[0], memory_allocated(device))
    return _peak[0]


def reset_peak_memory_stats(device=None) -> None:
    _peak[0] = memory_allocated(device) if is_available() else 0


def empty_cache() -> None:
    """Return cached, unused blocks of the memory pool to the driver."""
    if is_available():
        _cupy.import_cupy().get_default_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    from .random import manual_seed as ms
    ms(seed)


manual_seed_all = manual_seed
