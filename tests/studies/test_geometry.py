"""Study ``geometry``: the reference's regression inputs and mirror-descent fit; smoke run of both parts."""

from __future__ import annotations

from pathlib import Path

import torch

from plasticity.studies import get_study
from plasticity.studies.geometry import corr_cholesky, fit_linear, regression_tasks


def test_geometry_smoke(tmp_path: Path) -> None:
    study = get_study("geometry")
    res = study.run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "geometry.png").exists()
    reg = res.metrics["regression"]["p2_nd0.5"]
    assert all(c == 1.0 for p in ("euclidean", "negentropy") for c in reg[p]["converged"])  # fits interpolate
    assert set(res.metrics["mlp"]) >= {"0.5"}
    assert len(res.checks) == 6 + 3
    assert res.deviations and study.config("small")["mlp_sigmas"] == [0.3, 0.5, 1.0]


def test_correlation_is_the_reference_toeplitz() -> None:
    chol = corr_cholesky(6, 2.0, 1.0)
    c = chol @ chol.T
    assert torch.allclose(torch.diag(c), torch.ones(6, dtype=torch.float64))
    assert torch.isclose(c[0, 1], torch.tensor(-0.5, dtype=torch.float64))      # (-1)^1 / (1 + 1)
    assert torch.isclose(c[0, 2], torch.tensor(0.2, dtype=torch.float64))       # 1 / (1 + 4)
    x, y = regression_tasks(2, 5, chol, torch.Generator().manual_seed(0))
    assert x.shape == (2, 5, 6) and set(y.unique().tolist()) <= {-1.0, 1.0}


def test_mirror_descent_fit_interpolates_and_keeps_signs() -> None:
    gen = torch.Generator().manual_seed(0)
    x, y = regression_tasks(2, 10, corr_cholesky(100, 1.0), gen)
    w0 = torch.randn(2, 100, generator=gen, dtype=torch.float64) / 10
    w, loss = fit_linear(x, y, w0, 1e-2, 300, "euclidean")
    assert float(loss.max()) < 1e-3
    w, _ = fit_linear(x, y, w0, 1e-2, 50, "negentropy")
    assert torch.equal(torch.sign(w), torch.sign(w0))                            # EG never flips a sign
