"""torch.utils.data: datasets, samplers, DataLoader and default collation (single process).

A DataLoader over a TensorDataset with the default collate gathers each batch with one fancy-index per tensor
instead of stacking per-sample views: the same result, without a Python loop over the batch.
"""
from __future__ import annotations

import math
import warnings
from itertools import accumulate
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..random import default_generator
from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "BatchSampler", "DataLoader", "default_collate"]


class Dataset:
    """Map-style dataset: subclasses define __getitem__ (and usually __len__)."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Stream-style dataset: subclasses define __iter__."""

    def __iter__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Sample i is (t[i] for t in tensors); all tensors share the first dimension."""

    def __init__(self, *tensors: Tensor):
        if any(tensors[0].shape[0] != t.shape[0] for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        import bisect
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx - (self.cumulative_sizes[d - 1] if d else 0)]


def _perm(n: int, generator) -> list:
    gen = generator if generator is not None else default_generator
    return gen._np.permutation(n).tolist()


def random_split(dataset: Dataset, lengths: Sequence, generator=default_generator) -> list:
    """Split into non-overlapping random Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, s in enumerate(sizes):
            if s == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.")
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    idx = _perm(n, generator)
    return [Subset(dataset, idx[end - ln:end]) for end, ln in zip(accumulate(lengths), lengths)]


# ---------------------------------------------------------------- samplers
class Sampler:
    """Yields dataset indices."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement), from ``generator``."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        gen = self.generator if self.generator is not None else default_generator
        if self.replacement:
            return iter(gen._np.integers(0, n, size=self.num_samples).tolist())
        out = []
        for _ in range(self.num_samples // n):
            out += gen._np.permutation(n).tolist()
        out += gen._np.permutation(n).tolist()[:self.num_samples % n]
        return iter(out)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups indices from ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ---------------------------------------------------------------- collation
def _stack(tensors):
    import autograd_gpu as ag
    stack = getattr(ag, "stack", None)
    if stack is not None:
        return stack(tensors)
    dev = tensors[0]._device
    return Tensor._make(dev.xp.stack([t._data for t in tensors]), dev)


def default_collate(batch):
    """Stack tensors / NumPy arrays along a new dim 0, turn numbers into tensors (int64 / float64), keep
    strings, and recurse into tuples, lists and dicts (a batch of tuples becomes a list of batches)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    from ..creation import tensor
    if isinstance(elem, np.ndarray):
        return tensor(np.stack(batch))
    if isinstance(elem, (bool, np.bool_)):
        return tensor(list(batch))
    if isinstance(elem, (int, np.integer)):
        return tensor(list(batch))
    if isinstance(elem, (float, np.floating)):
        from .. import _dtype
        return tensor([float(b) for b in batch], dtype=_dtype.float64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, dict):
        return type(elem)((k, default_collate([d[k] for d in batch])) for k in elem)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        cols = [default_collate(s) for s in zip(*batch)]
        return cols  # a list for tuples too, as PyTorch
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem)}")


class DataLoader:
    """Iterates ``dataset`` in batches: DataLoader(ds, batch_size=1, shuffle=False, drop_last=False,
    generator=None, collate_fn=default_collate). Loading runs in the calling process (num_workers is
    accepted and ignored)."""

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn: Callable | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self.drop_last = drop_last
        self.batch_size = batch_size
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if self._auto_collation
                                                                     else _identity_convert)

    def __len__(self) -> int:
        return len(self.batch_sampler) if self._auto_collation else len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        ds = self.dataset
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(ds[i])
            return
        fast = type(ds) is TensorDataset and self.collate_fn is default_collate
        for idx in self.batch_sampler:
            if fast:
                yield _gather(ds.tensors, idx)
            else:
                yield self.collate_fn([ds[i] for i in idx])


def _identity_convert(x):
    return x


def _gather(tensors, idx):
    """The default-collated batch of TensorDataset samples ``idx``: one fancy-index per tensor."""
    out = []
    for t in tensors:
        xp = t._device.xp
        sel = xp.asarray(np.asarray(idx, dtype=np.int64)) if xp is not np else np.asarray(idx, dtype=np.int64)
        out.append(Tensor._make(t._data[sel], t._device))
    return out
