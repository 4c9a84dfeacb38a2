"""CS231n assignment 2's convolution, pooling and spatial normalisation in the layer protocol,
and 11-785's conv1d and average pooling: max-pool's tie pinned, average pooling's spread
pinned, sizes derived only where the windows tile the input, groupnorm's G passed positionally."""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings

from gradverify.impl import layers
from gradverify.properties.layer_cases import LayerCase
from gradverify.properties.layer_checks import call_forward
from gradverify.properties.layer_strategies import layer_cases
from gradverify.references.layer_spec import LAYER_OPS, shape_of

MANY = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def test_max_pool_routes_a_tie_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])  # one 2×2 window, its maximum 3 twice
    out, cache = layers.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.tolist() == [[[[3.0]]]]
    assert layers.max_pool_backward_naive(np.array([[[[5.0]]]]), cache).tolist() == [[[[0.0, 5.0], [0.0, 0.0]]]]


@pytest.mark.parametrize("name", ["conv", "max_pool", "conv1d", "avg_pool"])
def test_cases_are_drawn_only_where_the_windows_tile_the_input_and_the_model_agrees(name):
    op = LAYER_OPS[name]

    @MANY
    @given(layer_cases(op, max_size=5))
    def run(case):
        out, _ = call_forward(layers, op, case.arrays(), case.hypers)[:2]
        assert out.shape == shape_of(op.out_shape or (), case.sizes)

    run()


def test_a_draw_whose_windows_do_not_tile_is_refused():
    dims = (("N", 1), ("C", 1), ("F", 1), ("H", 4), ("W", 3), ("HH", 3), ("WW", 3))
    case = LayerCase(LAYER_OPS["conv"], dims, (("stride", 2), ("pad", 0)), 0)  # (4 − 3) % 2 ≠ 0
    assert not case.consistent
    with pytest.raises(ValueError):
        case.shapes()
    with pytest.raises(ValueError):
        layers.conv_forward_naive(np.zeros((1, 1, 4, 3)), np.zeros((1, 1, 3, 3)), np.zeros(1), {"stride": 2, "pad": 0})


def test_a_conv1d_or_avg_pool_draw_whose_windows_do_not_tile_is_refused():
    dims = (("N", 1), ("C", 1), ("F", 1), ("L", 4), ("K", 3))
    assert not LayerCase(LAYER_OPS["conv1d"], dims, (("stride", 2), ("pad", 0)), 0).consistent  # (4 − 3) % 2 ≠ 0
    with pytest.raises(ValueError, match="does not tile"):
        layers.conv1d_forward(np.zeros((1, 1, 4)), np.zeros((1, 1, 3)), np.zeros(1), {"stride": 2, "pad": 0})
    pool = (("pool_height", 2), ("pool_width", 2), ("stride", 2))
    assert not LayerCase(LAYER_OPS["avg_pool"], (("N", 1), ("C", 1), ("H", 3), ("W", 2)), pool, 0).consistent
    with pytest.raises(ValueError, match="does not tile"):
        layers.avg_pool_forward(np.zeros((1, 1, 3, 2)), dict(pool))


def test_avg_pool_backward_spreads_dout_evenly_and_adds_where_windows_overlap():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out, cache = layers.avg_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    assert out.tolist() == [[[[2.0, 3.0], [5.0, 6.0]]]]
    dx = layers.avg_pool_backward(np.array([[[[4.0, 8.0], [0.0, 0.0]]]]), cache)
    assert dx.tolist() == [[[[1.0, 3.0, 2.0], [1.0, 3.0, 2.0], [0.0, 0.0, 0.0]]]]


def test_conv1d_pads_both_ends_with_zeros():
    out, _ = layers.conv1d_forward(np.array([[[1.0, 2.0]]]), np.array([[[1.0, 10.0]]]), np.array([0.5]), {"stride": 1, "pad": 1})
    assert out.tolist() == [[[10.5, 21.5, 2.5]]]  # windows (0, 1), (1, 2), (2, 0)


def test_conv_cases_shrink_to_one_window_of_one_value():
    case = find(layer_cases(LAYER_OPS["conv"]), lambda c: True, settings=settings(database=None))
    assert case.hypers == {"stride": 1, "pad": 0} and case.seed == 0
    assert case.shapes() == {"x": (1, 1, 1, 1), "w": (1, 1, 1, 1), "b": (1,)}


def test_groupnorm_gets_G_positionally_and_C_as_G_groups_of_its_channels():
    seen = {}

    def forward(x, gamma, beta, G, gn_param):
        seen.update(G=G, gn_param=dict(gn_param))
        return x.copy(), None

    dims = (("N", 1), ("Cg", 3), ("H", 1), ("W", 2))
    case = LayerCase(LAYER_OPS["spatial_groupnorm"], dims, (("G", 2), ("eps", 1e-5)), 0)
    assert case.shapes() == {"x": (1, 6, 1, 2), "gamma": (1, 6, 1, 1), "beta": (1, 6, 1, 1)}
    call_forward(types.SimpleNamespace(spatial_groupnorm_forward=forward), case.op, case.arrays(), case.hypers)
    assert seen == {"G": 2, "gn_param": {"eps": 1e-5}}
