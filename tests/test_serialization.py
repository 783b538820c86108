"""save / load: a safe .npz + JSON format (no pickle) round-tripping tensors, state dicts and checkpoints."""
import io
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn, optim

from conftest import DEVICES


def _round_trip(obj, **load_kw):
    buf = io.BytesIO()
    ag.save(obj, buf)
    buf.seek(0)
    return ag.load(buf, **load_kw)


def test_tensors_scalars_and_containers(tmp_path):
    t = ag.tensor([[1.5, -2.0], [3.0, 4.0]], dtype=ag.float64)
    obj = {"t": t, "i": ag.tensor([1, 2, 3]), "b": ag.tensor([True, False]),
           "h": ag.ones(2, dtype=ag.float16), "scalar": ag.tensor(7.0),
           "nested": [1, 2.5, "x", None, True, (3, (4, "y"))], 5: "int key", (1, 2): "tuple key",
           "nan": float("nan"), "inf": -float("inf"), "np": np.arange(4, dtype=np.int32),
           "dtype": ag.float64, "device": ag.device("cpu"), "empty": ag.zeros(0, 3)}
    path = tmp_path / "ckpt.pt"
    ag.save(obj, path)
    assert path.exists() and not (tmp_path / "ckpt.pt.npz").exists()
    back = ag.load(path)
    assert list(back) == list(obj)
    for k in ("t", "i", "b", "h", "scalar", "empty"):
        assert back[k].dtype is obj[k].dtype and back[k].shape == obj[k].shape
        np.testing.assert_array_equal(back[k].numpy(), obj[k].numpy())
    assert back["nested"] == [1, 2.5, "x", None, True, (3, (4, "y"))]
    assert isinstance(back["nested"][0], int) and isinstance(back["nested"][5], tuple)
    assert back[5] == "int key" and back[(1, 2)] == "tuple key"
    assert np.isnan(back["nan"]) and back["inf"] == -float("inf")
    np.testing.assert_array_equal(back["np"], np.arange(4, dtype=np.int32))
    assert back["dtype"] is ag.float64 and back["device"] == ag.device("cpu")
    assert type(_round_trip(OrderedDict(a=1))) is OrderedDict


def test_requires_grad_parameters_and_shared_tensors():
    p = nn.Parameter(ag.ones(2))
    g = ag.ones(3, requires_grad=True)
    back = _round_trip({"p": p, "g": g, "again": p})
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    assert back["g"].requires_grad and back["g"].is_leaf
    assert back["again"] is back["p"]  # the same tensor saved twice loads as one object


def test_model_state_dict_round_trip(tmp_path):
    ag.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    model(ag.randn(4, 1, 4, 4))  # move the running stats
    ag.save(model.state_dict(), tmp_path / "model.pt")
    ag.manual_seed(1)
    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    sd = ag.load(tmp_path / "model.pt")
    assert type(sd) is OrderedDict and list(sd) == list(model.state_dict())
    assert sd["1.num_batches_tracked"].dtype is ag.int64 and int(sd["1.num_batches_tracked"]) == 1
    fresh.load_state_dict(sd)
    model.eval(), fresh.eval()
    x = ag.randn(2, 1, 4, 4)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_optimizer_state_dict_round_trip():
    ag.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9), amsgrad=True)
    x, y = ag.randn(5, 3), ag.randn(5, 2)

    def step(m, o):
        loss = ((m(x) - y) ** 2).mean()
        o.zero_grad()
        loss.backward()
        o.step()
    step(model, opt)
    sd = _round_trip({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3})
    assert sd["epoch"] == 3 and sorted(sd["optim"]["state"]) == [0, 1]
    assert sd["optim"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert sd["optim"]["state"][0]["step"].dtype is ag.float32
    model2 = nn.Linear(3, 2)
    model2.load_state_dict(sd["model"])
    opt2 = optim.Adam(model2.parameters(), lr=1.0)
    opt2.load_state_dict(sd["optim"])
    for _ in range(3):
        step(model, opt)
        step(model2, opt2)
    np.testing.assert_array_equal(model2.weight.detach().numpy(), model.weight.detach().numpy())


@pytest.mark.parametrize("dev", DEVICES)
def test_devices_and_map_location(dev):
    t = ag.arange(6.0, device=dev).reshape(2, 3)
    back = _round_trip({"t": t})
    assert back["t"].device == ag.device(dev)
    np.testing.assert_array_equal(back["t"]._host(), t._host())
    assert _round_trip(t, map_location="cpu").device == ag.device("cpu")
    assert _round_trip(t, map_location={dev: "cpu"}).device == ag.device("cpu")
    moved = _round_trip(t, map_location=lambda tensor, loc: tensor.to("cpu") * 2)
    np.testing.assert_array_equal(moved.numpy(), 2 * t._host())


def test_refuses_unsupported_objects_and_pickles(tmp_path):
    class Custom:
        pass
    with pytest.raises(TypeError, match="cannot save an object of type .*Custom .*no pickle"):
        ag.save({"x": Custom()}, io.BytesIO())
    with pytest.raises(TypeError, match="object array"):
        ag.save(np.array([object()]), io.BytesIO())
    # a pickle file (what torch.save writes, and what could run code on load) is refused, not unpickled
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(RuntimeError, match="not an autograd_gpu checkpoint"):
        ag.load(evil)
    # an .npz holding an object array needs pickle to read: np.load(allow_pickle=False) refuses it
    sneaky = tmp_path / "sneaky.npz"
    with open(sneaky, "wb") as f:
        structure = '{"format": "autograd_gpu.save/1", "root": {"t": "ndarray", "i": 0}}'
        np.savez(f, a0=np.array([{"x": 1}], dtype=object), __structure__=np.array(structure))
    with pytest.raises(ValueError, match="allow_pickle"):
        ag.load(sneaky)
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:
        z.writestr("x.npy", b"")
    with pytest.raises(Exception):
        ag.load(tmp_path / "plain.zip")


def test_copy_and_pickle_of_tensors_still_work():
    import copy
    p = nn.Parameter(ag.tensor([1.0, 2.0]))
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, nn.Parameter) and q.requires_grad and q.tolist() == [1.0, 2.0]
    m = copy.deepcopy(nn.Linear(2, 2))
    assert isinstance(m.weight, nn.Parameter)
