import math

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.layers import LIFCell, LIFLayer, RecurrentLIFLayer, check_sequence
from plasticity.spiking.neurons import (
    LIFParameters,
    check_lif_parameters,
    first_spike_time,
    lif_initial_state,
    lif_step,
)


def simulate(current: float, p: LIFParameters, n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.full((1,), current, dtype=torch.float64)
    st = lif_initial_state((1,), p, x)
    zs, vs = [], []
    for _ in range(n_steps):
        z, st = lif_step(x, st, p)
        zs.append(z)
        vs.append(st.v)
    return torch.cat(zs), torch.cat(vs)


@pytest.mark.parametrize("current", [1.05, 1.5, 3.0])
@pytest.mark.parametrize("dt", [0.1, 0.5])
def test_time_to_first_spike_matches_closed_form(current, dt):
    p = LIFParameters(dt=dt, tau_mem=20.0, tau_syn=0.0)
    t_star = -p.tau_mem * math.log(1.0 - p.v_th / current)  # v(t) = I (1 - exp(-t/tau)) = v_th
    assert first_spike_time(current, p) == pytest.approx(t_star)
    z, v = simulate(current, p, int(3 * t_star / dt) + 5)
    n_first = int(torch.nonzero(z)[0])
    # the exponential-Euler step is exact for constant input: v after step n is I (1 - exp(-n dt / tau))
    assert n_first + 1 == math.ceil(t_star / dt - 1e-9)
    t = torch.arange(1, n_first + 1, dtype=torch.float64) * dt
    assert torch.allclose(v[:n_first], current * (1 - torch.exp(-t / p.tau_mem)), atol=1e-12)


def test_subthreshold_current_never_spikes():
    p = LIFParameters(dt=1.0, tau_mem=10.0, tau_syn=0.0)
    assert first_spike_time(0.99, p) == math.inf
    z, v = simulate(0.99, p, 500)
    assert z.sum() == 0
    assert float(v[-1]) == pytest.approx(0.99, abs=1e-6)


def test_refractory_period_adds_to_interspike_interval():
    p = LIFParameters(dt=1.0, tau_mem=20.0, tau_syn=0.0, t_ref=3.0)
    current = 2.0
    n_free = math.ceil(first_spike_time(current, p) / p.dt)
    z, _ = simulate(current, p, 200)
    times = torch.nonzero(z).flatten()
    assert int(times[0]) + 1 == n_free
    assert torch.all(times.diff() == n_free + 3)


def test_dynamic_threshold_lengthens_intervals():
    p = LIFParameters(dt=1.0, tau_mem=20.0, tau_syn=0.0, theta_plus=0.05, tau_theta=1e6)
    z, _ = simulate(2.0, p, 400)
    isi = torch.nonzero(z).flatten().diff()
    assert isi[-1] > isi[0]


def test_synaptic_filter_delays_first_spike():
    fast = LIFParameters(dt=0.5, tau_syn=0.0)
    slow = LIFParameters(dt=0.5, tau_syn=5.0)
    # with a synaptic filter the steady current is x / (1 - exp(-dt/tau_syn)); scale to the same steady state
    a = math.exp(-0.5 / 5.0)
    z1, _ = simulate(1.5, fast, 400)
    z2, _ = simulate(1.5 * (1 - a), slow, 400)
    assert int(torch.nonzero(z2)[0]) > int(torch.nonzero(z1)[0])


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ConfigError, match="dt"):
        check_lif_parameters(LIFParameters(dt=0.0))
    with pytest.raises(ConfigError, match="dt"):
        LIFCell(4, LIFParameters(dt=-1.0))
    with pytest.raises(ConfigError, match="v_th"):
        check_lif_parameters(LIFParameters(v_th=0.0, v_reset=0.0))
    with pytest.raises(ConfigError, match="surrogate"):
        check_lif_parameters(LIFParameters(surrogate="nope"))


def test_layers_check_shapes_and_run_batched():
    layer = LIFLayer(5, 7)
    with pytest.raises(ConfigError, match="time, batch, neurons"):
        layer(torch.rand(3, 5))
    with pytest.raises(ConfigError, match="expected 5"):
        layer(torch.rand(10, 3, 4))
    with pytest.raises(ConfigError):
        check_sequence("x", torch.rand(2, 2, 2), 3)
    rec = RecurrentLIFLayer(5, 7)
    assert torch.all(rec.rec.weight.diagonal() == 0)
    s, trace = rec(torch.rand(20, 3, 5) * 2, record=True)
    assert s.shape == trace.v.shape == (20, 3, 7)
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def test_batch_elements_are_independent():
    layer = LIFLayer(4, 6)
    x = (torch.rand(30, 5, 4) < 0.3).float()
    full, _ = layer(x)
    one, _ = layer(x[:, 2:3])
    assert torch.equal(full[:, 2:3], one)


# --- conventions against the peers, on hand-computed cases (see the neurons module docstring) ---------------

def run_steps(xs: list[float], p: LIFParameters) -> tuple[list[float], list[float]]:
    st = lif_initial_state((1,), p, torch.zeros(1, dtype=torch.float64))
    zs, vs = [], []
    for x in xs:
        z, st = lif_step(torch.tensor([x], dtype=torch.float64), st, p)
        zs.append(float(z))
        vs.append(float(st.v))
    return zs, vs


def test_exponential_euler_first_order_by_hand():
    # v[t] = a v[t-1] + (1 - a) x[t], a = exp(-dt/tau_mem): exact for piecewise-constant input
    p = LIFParameters(dt=1.0, tau_mem=4.0, tau_syn=0.0, v_th=10.0)
    a = math.exp(-1.0 / 4.0)
    _, vs = run_steps([1.0, 1.0, 0.0, 2.0], p)
    want, v = [], 0.0
    for x in [1.0, 1.0, 0.0, 2.0]:
        v = a * v + (1 - a) * x
        want.append(v)
    assert vs == pytest.approx(want, abs=1e-15)


def test_current_based_synapse_is_second_order_by_hand():
    # i[t] = a_s i[t-1] + x[t]; v[t] = a_m v[t-1] + (1 - a_m) i[t]: an impulse rises, then decays
    p = LIFParameters(dt=1.0, tau_mem=10.0, tau_syn=5.0, v_th=10.0)
    a_m, a_s = math.exp(-0.1), math.exp(-0.2)
    _, vs = run_steps([1.0] + [0.0] * 9, p)
    want = [(1 - a_m) * sum(a_m ** (t - k) * a_s ** k for k in range(t + 1)) for t in range(10)]
    assert vs == pytest.approx(want, abs=1e-15)
    assert max(range(10), key=lambda t: vs[t]) > 0  # the peak comes after the input (first order peaks at t=0)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_reset_modes_by_hand(reset):
    # a = 1/2 (tau = 1/ln 2), constant input 1, threshold 0.8: v = 0.5, 0.75, 0.875 -> spike at step 2
    p = LIFParameters(dt=1.0, tau_mem=1 / math.log(2), tau_syn=0.0, v_th=0.8, reset=reset)
    zs, vs = run_steps([1.0] * 6, p)
    if reset == "zero":  # v <- v_reset = 0, then the same climb again
        want_v = [0.5, 0.75, 0.0, 0.5, 0.75, 0.0]
        want_z = [0, 0, 1, 0, 0, 1]
    else:                # v <- v - (v_th - v_reset): the overshoot 0.075 is kept
        v, want_v, want_z = 0.0, [], []
        for _ in range(6):
            v = 0.5 * v + 0.5
            z = float(v >= 0.8)
            v -= 0.8 * z
            want_v.append(v)
            want_z.append(z)
        assert want_v[2] == pytest.approx(0.075) and want_z == [0, 0, 1, 0, 0, 1]
    assert zs == want_z
    assert vs == pytest.approx(want_v, abs=1e-12)


def test_threshold_tie_spikes():
    # tau_mem -> 0 makes v = x exactly: we spike at v == v_th (SpikingJelly's >=; snnTorch and Norse use >)
    p = LIFParameters(dt=1.0, tau_mem=1e-3, tau_syn=0.0, v_th=0.5)
    zs, _ = run_steps([0.5, 0.5 - 1e-12, 0.5 + 1e-12], p)
    assert zs == [1.0, 0.0, 1.0]
    layer = LIFLayer(1, 1, p)  # the fused sequence kernel follows the same convention
    with torch.no_grad():
        layer.fc.weight.fill_(1.0)
    z, _ = layer(torch.tensor([0.5, 0.5 - 1e-6, 0.5]).view(3, 1, 1))
    assert z.flatten().tolist() == [1.0, 0.0, 1.0]


def test_reset_mode_outside_choices_is_one_line_error():
    with pytest.raises(ConfigError, match=r"unknown reset 'soft'; allowed: subtract, zero"):
        check_lif_parameters(LIFParameters(reset="soft"))
    with pytest.raises(ConfigError, match="reset"):
        LIFLayer(3, 4, LIFParameters(reset="hard"))
