"""Array backends: the only package that touches CuPy (through _cupy, lazily)."""
from .device import CPU, Device, check_usable  # noqa: F401
