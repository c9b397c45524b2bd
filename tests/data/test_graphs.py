from __future__ import annotations

import numpy as np
import pytest

from plasticity.data.graphs import graph_pair_task, random_digraph_distances
from plasticity.errors import ConfigError


def test_shortest_paths_are_a_finite_quasimetric():
    d = random_digraph_distances(40, 0.05, seed=3)
    assert np.isfinite(d).all() and (np.diag(d) == 0).all() and (d[~np.eye(40, dtype=bool)] > 0).all()
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-9).all()  # d(i,k) <= d(i,j) + d(j,k)
    assert not np.allclose(d, d.T)


def test_pair_task_split_covers_all_ordered_pairs_once():
    t = graph_pair_task(20, 0.1, train_fraction=0.3, features="onehot", seed=0)
    pairs = np.concatenate([t.train_pairs.numpy(), t.test_pairs.numpy()])
    assert len(pairs) == 20 * 19 == len({tuple(p) for p in pairs}) and (pairs[:, 0] != pairs[:, 1]).all()
    assert abs(len(t.train_pairs) - 0.3 * 380) <= 1 and t.features.shape == (20, 20)
    off = ~np.eye(20, dtype=bool)
    assert abs(float(t.distances.numpy()[off].mean()) - 1.0) < 1e-5


def test_bad_task_arguments():
    with pytest.raises(ConfigError, match="features"):
        graph_pair_task(10, features="words")
    with pytest.raises(ConfigError, match="edge_prob"):
        random_digraph_distances(10, 1.5)
