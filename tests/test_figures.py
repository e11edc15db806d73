"""Figure 1's data against closed forms typed here, and the PNG written."""
from __future__ import annotations

import math

import numpy as np
import pytest

from symdual.figures import figure1_data, plot_figure1


@pytest.fixture(scope="module")
def data():
    return figure1_data()


def test_logsum_curve(data):
    w = data["w"]
    np.testing.assert_allclose(data["left"]["LogSum(2) x2"], 2 * np.log((w + 2) / (w[0] + 2)), rtol=1e-12, atol=1e-14)


def test_mcp_curve_caps_at_b_over_2(data):
    b = 0.5 * math.sqrt(2)  # a * lam
    w = data["w"]
    omega = np.where(w <= b, w - w**2 / (2 * b), b / 2)
    np.testing.assert_allclose(data["left"]["MCP(1/2, sqrt 2) x sqrt 2"], math.sqrt(2) * (omega - omega[0]), atol=1e-12)


def test_hardconcrete_is_capped_like_mcp_and_vardrop_grows_like_logsum(data):
    hc, vd = data["left"]["HardConcrete"], data["left"]["VarDrop (exact KL)"]
    assert hc[-1] <= 0.5 and hc[-1] == pytest.approx(hc[-50], abs=1e-12)  # flat beyond the critical |w|
    assert np.all(np.diff(vd) > 0) and vd[-1] > 2  # unbounded, log-like


def test_k_sparse_sums(data):
    k = data["k"]
    right = data["right"]["LogSum(2) x2"]
    ref = [0.0] + [2 * kk * math.log((1 / math.sqrt(kk) + 2) / 2) for kk in k[1:]]
    np.testing.assert_allclose(right, ref, rtol=1e-12)
    ht = data["right"]["HardThresh(16)"]
    assert np.all(ht[:17] == 0) and np.all(np.isinf(ht[17:]))


def test_png_written(tmp_path):
    path = plot_figure1(tmp_path / "figure1.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
