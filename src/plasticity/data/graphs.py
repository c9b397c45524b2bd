"""Random directed graphs and their shortest-path quasimetrics (task of Wang & Isola, ICLR 2022, Sec. 5).

Shortest-path distances on a directed graph are a quasimetric: d(i, i) = 0, d ≥ 0 and the triangle
inequality hold, but d(i, j) ≠ d(j, i) in general. A random Hamiltonian cycle is added to the random edges so
that the graph is strongly connected and every distance is finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import check_choice, check_range

FEATURES = ("onehot", "gaussian")


def random_digraph_distances(n_nodes: int, edge_prob: float, seed: int = 0, w_min: float = 1.0,
                             w_max: float = 1.0) -> np.ndarray:
    """``(n, n)`` shortest-path distances of a random directed graph (edges i→j kept with ``edge_prob``,
    weights uniform in ``[w_min, w_max]``) plus a random directed Hamiltonian cycle (strong connectivity)."""
    check_range("n_nodes", n_nodes, 2)
    check_range("edge_prob", edge_prob, 0.0, 1.0)
    check_range("w_min", w_min, 0.0, low_inclusive=False)
    check_range("w_max", w_max, w_min)
    rng = np.random.default_rng(seed)
    mask = rng.random((n_nodes, n_nodes)) < edge_prob
    np.fill_diagonal(mask, False)
    perm = rng.permutation(n_nodes)
    mask[perm, np.roll(perm, -1)] = True
    rows, cols = np.nonzero(mask)
    weights = rng.uniform(w_min, w_max, size=rows.size)
    from scipy.sparse import coo_matrix  # lazy: keeps `import plasticity` light
    from scipy.sparse.csgraph import shortest_path

    graph = coo_matrix((weights, (rows, cols)), shape=(n_nodes, n_nodes)).tocsr()
    return shortest_path(graph, method="D", directed=True)


@dataclass
class PairTask:
    """Node features, the true distance matrix and a train/test split of ordered pairs (i ≠ j)."""

    features: torch.Tensor  # (n, f)
    distances: torch.Tensor  # (n, n), normalised so the mean off-diagonal distance is 1
    scale: float  # mean off-diagonal distance before normalisation
    train_pairs: torch.Tensor  # (m, 2) long
    test_pairs: torch.Tensor  # (n·(n−1) − m, 2) long


def graph_pair_task(n_nodes: int = 100, edge_prob: float = 0.05, train_fraction: float = 0.5,
                    features: str = "gaussian", feature_dim: int = 32, seed: int = 0, w_min: float = 1.0,
                    w_max: float = 1.0) -> PairTask:
    """Random digraph quasimetric learning task: predict ``d(i, j)`` for held-out ordered pairs."""
    check_choice("features", features, FEATURES)
    check_range("train_fraction", train_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    d = random_digraph_distances(n_nodes, edge_prob, seed, w_min, w_max)
    off = ~np.eye(n_nodes, dtype=bool)
    scale = float(d[off].mean())
    rng = np.random.default_rng(seed + 1)
    if features == "onehot":
        feats = np.eye(n_nodes)
    else:
        check_range("feature_dim", feature_dim, 1)
        feats = rng.standard_normal((n_nodes, feature_dim))
    pairs = np.argwhere(off)
    rng.shuffle(pairs)
    m = round(train_fraction * len(pairs))
    return PairTask(torch.tensor(feats, dtype=torch.float32), torch.tensor(d / scale, dtype=torch.float32), scale,
                    torch.tensor(pairs[:m]), torch.tensor(pairs[m:]))


__all__ = ["FEATURES", "PairTask", "graph_pair_task", "random_digraph_distances"]
