"""utils.data: datasets, samplers, DataLoader batching/shuffling/collation, random_split."""
import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler,
                                     SequentialSampler, Subset, TensorDataset, default_collate, random_split)

from conftest import DEVICES


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return ag.tensor([float(i), float(i * i)]), i


@pytest.mark.parametrize("dev", DEVICES)
def test_tensor_dataset_batches(dev):
    x = ag.arange(10.0, device=dev).reshape(10, 1) * ag.ones(1, 2, device=dev)
    y = ag.arange(10, device=dev)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert xi.tolist() == [3.0, 3.0] and int(yi) == 3
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert isinstance(batches[0], list) and batches[0][0].shape == (4, 2)
    assert batches[0][0].device == ag.device(dev)
    assert batches[0][1].dtype is ag.int64
    assert [len(b[1]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds, batch_size=4)) == 3 and len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(ag.ones(2), ag.ones(3))


def test_shuffle_is_a_seeded_permutation():
    ds = TensorDataset(ag.arange(20))
    order = lambda loader: [v for (b,) in loader for v in b.tolist()]  # noqa: E731
    a = order(DataLoader(ds, batch_size=6, shuffle=True, generator=ag.Generator().manual_seed(7)))
    b = order(DataLoader(ds, batch_size=6, shuffle=True, generator=ag.Generator().manual_seed(7)))
    c = order(DataLoader(ds, batch_size=6, shuffle=True, generator=ag.Generator().manual_seed(8)))
    assert a == b and a != c and sorted(a) == list(range(20))
    loader = DataLoader(ds, batch_size=20, shuffle=True, generator=ag.Generator().manual_seed(7))
    assert order(loader) != order(loader)  # a new permutation every epoch
    ag.manual_seed(3)
    d = order(DataLoader(ds, batch_size=5, shuffle=True))
    ag.manual_seed(3)
    assert order(DataLoader(ds, batch_size=5, shuffle=True)) == d  # the default generator follows manual_seed


def test_default_collate_kinds():
    out = next(iter(DataLoader([(1, 2.0, "a"), (3, 4.0, "b")], batch_size=2)))
    assert isinstance(out, list) and out[0].dtype is ag.int64 and out[0].tolist() == [1, 3]
    assert out[1].dtype is ag.float64 and out[1].tolist() == [2.0, 4.0] and out[2] == ("a", "b")
    arr = next(iter(DataLoader([np.ones(2, np.float32), np.zeros(2, np.float32)], batch_size=2)))
    assert arr.shape == (2, 2) and arr.dtype is ag.float32
    d = default_collate([{"x": ag.ones(2), "y": 1}, {"x": ag.zeros(2), "y": 0}])
    assert d["x"].shape == (2, 2) and d["y"].tolist() == [1, 0]
    batches = list(DataLoader(Squares(), batch_size=3))
    assert batches[0][0].tolist() == [[0, 0], [1, 1], [2, 4]] and batches[-1][1].tolist() == [6]
    assert next(iter(DataLoader(Squares(), batch_size=None)))[1] == 0  # no auto-batching
    custom = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: len(b))
    assert list(custom) == [2, 2, 2, 1]


def test_samplers_and_errors():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    g = ag.Generator().manual_seed(0)
    assert sorted(RandomSampler(range(5), generator=g)) == list(range(5))
    assert len(list(RandomSampler(range(5), replacement=True, num_samples=12, generator=g))) == 12
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    loader = DataLoader(Squares(), batch_sampler=[[0, 6], [2]])
    assert [b[1].tolist() for b in loader] == [[0, 6], [2]]
    with pytest.raises(ValueError,
                       match="batch_size should be a positive integer value, but got batch_size=0"):
        DataLoader(Squares(), batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(Squares(), shuffle=True, sampler=[1])


def test_random_split_subset_concat():
    ds = TensorDataset(ag.arange(10))
    parts = random_split(ds, [3, 7], generator=ag.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7] and all(isinstance(p, Subset) for p in parts)
    seen = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    assert [len(p) for p in random_split(ds, [0.33, 0.33, 0.34])] == [4, 3, 3]
    with pytest.raises(ValueError,
                       match="Sum of input lengths does not equal the length of the input dataset!"):
        random_split(ds, [3, 3])
    cat = ConcatDataset([Squares(), Squares()])
    assert len(cat) == 14 and cat[8][1] == 1 and cat[-1][1] == 6
    assert len(Squares() + Squares()) == 14
