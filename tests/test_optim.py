"""Optimizers and LR schedulers: 5-step trajectories on a fixed least-squares problem against a NumPy
reimplementation of PyTorch's documented update rules, plus literal end values produced once by torch 2.13."""
import math

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import optim

from conftest import DEVICES

X = np.array([[0.548, -0.122, 0.717], [0.395, -0.812, 0.951], [0.522, 0.572, -0.744], [-0.099, -0.258, 0.854],
              [0.288, 0.646, -0.113], [-0.546, 0.109, -0.872]])
T = np.array([[0.655, 0.263], [0.516, -0.291], [0.941, 0.786], [0.557, -0.611], [-0.067, -0.912],
              [-0.691, 0.366]])
W0 = np.array([[0.49, 0.935], [-0.348, -0.259], [-0.061, -0.621]])
B0 = np.array([-0.74, -0.049])

# (optimizer, kwargs, W after 5 steps, b after 5 steps): printed by torch 2.13 on this problem, float64
TORCH_5_STEPS = [
    ("SGD", {"lr": 0.1},
     [[0.607936244964, 0.898838154304], [-0.324445866198, -0.295187850899], [0.0153201707, -0.646076711232]],
     [-0.343540336307, -0.088828136193]),
    ("SGD", {"lr": 0.1, "momentum": 0.9},
     [[0.787747595804, 0.841902806459], [-0.285152757066, -0.353859189746],
      [0.126933284209, -0.685240413947]],
     [0.251868487631, -0.147728158092]),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
     [[0.765265424792, 0.836523837645], [-0.285816715032, -0.343820163202],
      [0.119170612383, -0.674194042645]],
     [0.208315657215, -0.142329151087]),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
     [[0.807226717972, 0.810493021965], [-0.26068029859, -0.372894381204], [0.127289634962, -0.686383765831]],
     [0.312857425906, -0.147900498953]),
    ("SGD", {"lr": 0.05, "maximize": True},
     [[0.412524878205, 0.956073560413], [-0.358479699719, -0.240457557341],
      [-0.118145471802, -0.605935472464]],
     [-1.014036352848, -0.020103128853]),
    ("Adam", {"lr": 0.1},
     [[0.967924992616, 0.615285240312], [0.150228668106, -0.744969016193], [0.383731067487, -0.820353955919]],
     [-0.253264701222, -0.069809022529]),
    ("Adam", {"lr": 0.1, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True},
     [[0.925474139828, 0.479034832289], [0.1279891548, -0.41265556729], [0.345766196979, -0.624096436812]],
     [-0.260320756179, -0.05297931749]),
    ("Adam", {"lr": 0.05, "maximize": True, "eps": 1e-06},
     [[0.238946535075, 1.184940995393], [-0.598069772352, -0.008927459058],
      [-0.312106604941, -0.372957864809]],
     [-0.990936018196, 0.197190923769]),
    ("AdamW", {"lr": 0.1},
     [[0.964494313633, 0.612235486055], [0.150858192542, -0.742618109902], [0.383256783103, -0.818638022649]],
     [-0.250654541262, -0.06921952964]),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.5, "amsgrad": True},
     [[0.810273389917, 0.479274534492], [0.173810203072, -0.636049087378], [0.359957986901, -0.745502420961]],
     [-0.137668904011, -0.043546272207]),
    ("RMSprop", {"lr": 0.01},
     [[0.774288673646, 0.732542386218], [-0.040005127605, -0.554603197728],
      [0.197975935808, -0.792014259596]],
     [-0.444707176679, -0.091169540454]),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
     [[1.133702834386, 0.198763187363], [0.431180828848, -0.340448030803], [0.514077307333, -0.597156261581]],
     [0.084787766501, -0.004352087914]),
    ("RMSprop", {"lr": 0.02, "alpha": 0.9, "eps": 1e-06, "maximize": True},
     [[0.265254556702, 1.179420575224], [-0.558611378303, -0.049850843617], [-0.29133723373, -0.36685700447]],
     [-0.962229332024, 0.208784596068]),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, *_ in TORCH_5_STEPS]


# ---------------------------------------------------------------- NumPy reference (PyTorch's documented rule)
def _grads(w, b):
    r = X @ w + b - T
    n = r.size
    return 2 / n * X.T @ r, 2 / n * r.sum(axis=0)


def _ref_trajectory(name, kw, steps=5):
    """[(w, b)] after each step, following the pseudo-code in PyTorch's optimizer docs (float64)."""
    lr = kw.get("lr")
    params = [W0.copy(), B0.copy()]
    state = [{} for _ in params]
    out = []
    for t in range(1, steps + 1):
        grads = _grads(*params)
        for i, (p, g) in enumerate(zip(params, grads)):
            s = state[i]
            g = -g if kw.get("maximize") else g
            if name == "SGD":
                wd, mom, damp = kw.get("weight_decay", 0), kw.get("momentum", 0), kw.get("dampening", 0)
                g = g + wd * p
                if mom:
                    s["buf"] = g.copy() if t == 1 else mom * s["buf"] + (1 - damp) * g
                    g = g + mom * s["buf"] if kw.get("nesterov") else s["buf"]
                params[i] = p - lr * g
            elif name in ("Adam", "AdamW"):
                b1, b2 = kw.get("betas", (0.9, 0.999))
                eps = kw.get("eps", 1e-8)
                wd = kw.get("weight_decay", 1e-2 if name == "AdamW" else 0)
                if name == "AdamW":
                    p = p * (1 - lr * wd)
                else:
                    g = g + wd * p
                s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
                mhat, vhat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
                if kw.get("amsgrad"):
                    s["vmax"] = np.maximum(s.get("vmax", 0), s["v"])
                    vhat = s["vmax"] / (1 - b2 ** t)
                params[i] = p - lr * mhat / (np.sqrt(vhat) + eps)
            else:  # RMSprop
                alpha, eps, wd = kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("weight_decay", 0)
                mom = kw.get("momentum", 0)
                g = g + wd * p
                s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g * g
                v = s["v"]
                if kw.get("centered"):
                    s["gavg"] = alpha * s.get("gavg", 0) + (1 - alpha) * g
                    v = v - s["gavg"] ** 2
                if mom > 0:
                    s["buf"] = mom * s.get("buf", 0) + g / (np.sqrt(v) + eps)
                    params[i] = p - lr * s["buf"]
                else:
                    params[i] = p - lr * g / (np.sqrt(v) + eps)
        out.append([p.copy() for p in params])
    return out


def _run(name, kw, device, dtype, steps=5):
    w = ag.tensor(W0, dtype=dtype, device=device, requires_grad=True)
    b = ag.tensor(B0, dtype=dtype, device=device, requires_grad=True)
    x, t = ag.tensor(X, dtype=dtype, device=device), ag.tensor(T, dtype=dtype, device=device)
    opt = getattr(optim, name)([w, b], **kw)
    traj = []
    for _ in range(steps):
        loss = ((x.matmul(w) + b - t) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        traj.append([w.detach()._host().astype(np.float64), b.detach()._host().astype(np.float64)])
    return traj, opt, (w, b)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("case", TORCH_5_STEPS, ids=IDS)
def test_trajectory_matches_reference(case, dev):
    name, kw, w5, b5 = case
    ref = _ref_trajectory(name, kw)
    traj, _, _ = _run(name, kw, dev, ag.float64)
    for step, ((w, b), (rw, rb)) in enumerate(zip(traj, ref), 1):
        where = f"{name} step {step} on {dev}"
        np.testing.assert_allclose(w, rw, rtol=1e-10, atol=1e-12, err_msg=where)
        np.testing.assert_allclose(b, rb, rtol=1e-10, atol=1e-12, err_msg=where)
    # and the end point PyTorch itself reached
    np.testing.assert_allclose(traj[-1][0], w5, atol=1e-10)
    np.testing.assert_allclose(traj[-1][1], b5, atol=1e-10)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("case", TORCH_5_STEPS, ids=IDS)
def test_trajectory_float32(case, dev):
    name, kw, w5, b5 = case
    traj, _, (w, b) = _run(name, kw, dev, ag.float32)
    assert w.dtype is ag.float32 and b.dtype is ag.float32
    np.testing.assert_allclose(traj[-1][0], w5, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(traj[-1][1], b5, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dev", DEVICES)
def test_state_kept_per_parameter_and_skips_params_without_grad(dev):
    w = ag.tensor(W0, device=dev, requires_grad=True)
    unused = ag.ones(3, device=dev, requires_grad=True)
    opt = optim.Adam([w, unused], lr=0.1, amsgrad=True)
    (w * w).sum().backward()
    opt.step()
    assert set(opt.state[w]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert opt.state[w]["step"].dtype is ag.float32 and float(opt.state[w]["step"]) == 1.0
    assert unused not in opt.state
    np.testing.assert_array_equal(unused.detach()._host(), np.ones(3))


def test_sgd_momentum_buffers_start_per_parameter():
    """A parameter that first gets a gradient later starts its momentum buffer then (buf = g)."""
    for dev in DEVICES:
        a = ag.tensor([1.0, 2.0], device=dev, requires_grad=True)
        b = ag.tensor([3.0], device=dev, requires_grad=True)
        opt = optim.SGD([a, b], lr=0.1, momentum=0.5)
        (a * a).sum().backward()
        opt.step()
        opt.zero_grad()
        ((a * a).sum() + (b * b).sum()).backward()
        opt.step()
        # a: g1 = 2 a0 = [2, 4]; a1 = a0 - .1 g1 = [.8, 1.6]; g2 = [1.6, 3.2]; buf = .5 g1 + g2;
        # a2 = a1 - .1 buf
        np.testing.assert_allclose(a.detach()._host(), [0.8 - 0.1 * 2.6, 1.6 - 0.1 * 5.2])
        np.testing.assert_allclose(b.detach()._host(), [3.0 - 0.1 * 6.0])


def test_zero_grad_and_param_groups():
    w = ag.ones(2, requires_grad=True)
    b = ag.ones(1, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    ((w * 2).sum() + (b * 3).sum()).backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 0.8])
    np.testing.assert_allclose(b.detach().numpy(), [-0.5])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0, 0])
    opt.zero_grad()
    assert w.grad is None and b.grad is None
    opt.add_param_group({"params": [ag.zeros(1, requires_grad=True)], "lr": 1.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["nesterov"] is False


def test_errors_match_pytorch():
    w = ag.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an iterable of "
                                        "Tensors or dicts, but got torch.FloatTensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid alpha value: -0.5"):
        optim.RMSprop([w], alpha=-0.5)


def test_repr_like_pytorch():
    w = ag.ones(2, requires_grad=True)
    assert repr(optim.SGD([w], lr=0.1)) == (
        "SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n    foreach: None\n"
        "    fused: None\n    lr: 0.1\n    maximize: False\n    momentum: 0\n    nesterov: False\n"
        "    weight_decay: 0\n)")


@pytest.mark.parametrize("name,kw", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                     ("Adam", {"lr": 0.1, "amsgrad": True}), ("AdamW", {"lr": 0.1}),
                                     ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5})])
def test_state_dict_round_trip_resumes_identically(name, kw):
    """Two steps, save, load into a fresh optimizer, three more steps == five uninterrupted steps."""
    full, _, _ = _run(name, kw, "cpu", ag.float64, steps=5)
    _, opt, (w, b) = _run(name, kw, "cpu", ag.float64, steps=2)
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"] and sd["param_groups"][0]["params"] == [0, 1]
    w2 = ag.tensor(w.detach().numpy(), requires_grad=True)
    b2 = ag.tensor(b.detach().numpy(), requires_grad=True)
    opt2 = getattr(optim, name)([w2, b2], lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"] and opt2.param_groups[0]["params"][0] is w2
    x, t = ag.tensor(X), ag.tensor(T)
    for _ in range(3):
        loss = ((x.matmul(w2) + b2 - t) ** 2).mean()
        opt2.zero_grad()
        loss.backward()
        opt2.step()
    np.testing.assert_allclose(w2.detach().numpy(), full[-1][0], rtol=1e-12)
    np.testing.assert_allclose(b2.detach().numpy(), full[-1][1], rtol=1e-12)
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match "
                                         "the size of optimizer's group"):
        getattr(optim, name)([w2], lr=0.1).load_state_dict(sd)


# ---------------------------------------------------------------- schedulers (values printed by torch 2.13)
def _lrs(make, n):
    p = ag.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    sched = make(opt)
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    assert opt.param_groups[0]["lr"] == out[-1]
    return out


def test_step_lr():
    np.testing.assert_allclose(_lrs(lambda o: optim.lr_scheduler.StepLR(o, 2, 0.5), 6),
                               [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125], rtol=1e-14)


def test_cosine_annealing_lr():
    np.testing.assert_allclose(_lrs(lambda o: optim.lr_scheduler.CosineAnnealingLR(o, 4, 0.01), 10),
                               [0.1, 0.086819805153395, 0.055, 0.023180194846605, 0.01, 0.023180194846605,
                                0.055, 0.086819805153395, 0.1, 0.086819805153395, 0.055], rtol=1e-12)
    closed = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    np.testing.assert_allclose(_lrs(lambda o: optim.lr_scheduler.CosineAnnealingLR(o, 4, 0.01), 4), closed,
                               rtol=1e-12)


def test_lambda_lr_and_state_dict():
    np.testing.assert_allclose(_lrs(lambda o: optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e), 4),
                               [0.1, 0.09, 0.081, 0.0729, 0.06561], rtol=1e-12)
    p = ag.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    s = optim.lr_scheduler.StepLR(opt, 1, 0.5)
    opt.step()
    s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 1
    s2 = optim.lr_scheduler.StepLR(optim.SGD([p], lr=0.1), 3, 0.9)
    s2.load_state_dict(sd)
    assert s2.step_size == 1 and s2.get_last_lr() == [0.05]


LAUNCH_CASES = [("SGD", {"lr": 0.1}, "sgd_step"), ("SGD", {"lr": 0.1, "momentum": 0.9}, "sgd_step"),
                ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, "sgd_step"),
                ("Adam", {"lr": 0.1}, "adam_step"), ("Adam", {"lr": 0.1, "amsgrad": True}, "adam_step"),
                ("AdamW", {"lr": 0.1}, "adam_step"), ("RMSprop", {"lr": 0.01}, "rmsprop_step"),
                ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, "rmsprop_step")]


def _losses_backward(params):
    sum(((p * p).sum() for p in params), ag.tensor(0.0, device=params[0].device)).backward()


@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "cpu"])
@pytest.mark.parametrize("name,kw,kernel", LAUNCH_CASES, ids=[f"{n}-{k}" for n, k, _ in LAUNCH_CASES])
def test_cuda_step_is_one_kernel_launch_for_all_parameters(dev, name, kw, kernel):
    """Counted at the kernel factory: each step of a 4-parameter group launches exactly one kernel (the fused
    multi-tensor step), from the first step on; and the parameters move as on cpu."""
    from autograd_gpu.testing.launches import count_launches
    shapes = ((3, 4), (4,), (2, 2, 2), (20000,))
    start = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    runs = {}
    for d in ("cpu", dev):
        params = [ag.tensor(a, dtype=ag.float64, device=d, requires_grad=True) for a in start]
        opt = getattr(optim, name)(params, **kw)
        for _ in range(3):
            opt.zero_grad()
            _losses_backward(params)
            with count_launches() as n:
                opt.step()
            if d == dev:
                assert dict(n) == {f"{kernel}<double>": 1}, dict(n)
        runs[d] = [p.detach()._host() for p in params]
    for a, b in zip(runs["cpu"], runs[dev]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "cpu"])
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_mixed_group_one_launch_per_device_and_dtype(dev, name):
    """A group holding cpu, float32 and float64 device parameters: one launch per dtype on the device (a
    launch takes one device's arrays), the cpu parameter updated by NumPy; values as an all-cpu float64
    group's (float32 parameters to float32 accuracy)."""
    from autograd_gpu.testing.launches import count_launches
    spec = [("cpu", ag.float32), (dev, ag.float32), (dev, ag.float64), (dev, ag.float32)]
    start = [np.random.default_rng(i).standard_normal(5) for i in range(len(spec))]
    runs = {}
    for where in ("cpu", "mixed"):
        params = [ag.tensor(a, dtype=ag.float64 if where == "cpu" else dt,
                            device="cpu" if where == "cpu" else d, requires_grad=True)
                  for a, (d, dt) in zip(start, spec)]
        opt = getattr(optim, name)(params, lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            for p in params:
                (p * p).sum().backward()
            with count_launches() as n:
                opt.step()
        if where == "mixed":
            assert n.total == 2 and len(n) == 2, dict(n)
        runs[where] = [p.detach()._host() for p in params]
    for a, b, (_, dt) in zip(runs["cpu"], runs["mixed"], spec):
        np.testing.assert_allclose(b, a, rtol=1e-12 if dt is ag.float64 else 1e-5)
