"""Random number generation: reproducible streams from manual_seed, identical on every device.

Values are drawn on the host with NumPy's PCG64 and moved to the device, so a seed gives the same tensor
on cpu, cuda and the emulated device (GPU-side generation is done by the kernels that need it: dropout).
"""
from __future__ import annotations

import numpy as np


class Generator:
    """torch.Generator look-alike."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721
        self._np = np.random.Generator(np.random.PCG64(self._seed))
        self._offset = 0  # counter for kernels using counter-based RNG (dropout)

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < 0:
            seed = seed & 0xFFFF_FFFF_FFFF_FFFF
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        self._offset = 0
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        import pickle
        from .creation import tensor
        raw = pickle.dumps((self._seed, self._np.bit_generator.state, self._offset))
        return tensor(list(raw), dtype="uint8")

    def set_state(self, state) -> "Generator":
        import pickle
        seed, st, off = pickle.loads(bytes(state.tolist()))
        self._seed, self._offset = seed, off
        self._np = np.random.Generator(np.random.PCG64())
        self._np.bit_generator.state = st
        return self

    def next_offset(self, n: int) -> int:
        """Reserve ``n`` counter values for a counter-based kernel RNG; returns the first."""
        off = self._offset
        self._offset += int(n)
        return off


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (all devices)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def gen(generator) -> np.random.Generator:
    return (generator or default_generator)._np
