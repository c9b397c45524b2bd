"""The download helper against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

import plasticity as P
from plasticity.data import download, has_dataset
from plasticity.data.idx import resolve_data_dir


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.mark.skipif(not has_dataset("mnist"), reason="MNIST files not in PLASTICITY_DATA")
def test_download_from_local_mirror_verifies(server, tmp_path):
    root, url = server
    for f in (resolve_data_dir() / "mnist").iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    folder = download("mnist", data_dir=tmp_path / "data", base_url=url)
    assert sorted(p.name for p in folder.iterdir()) == sorted(P.data.IDX_FILES["mnist"])
    assert P.data.load_idx_dataset("mnist", tmp_path / "data").x_test.shape[0] == 10000


def test_download_rejects_wrong_content(server, tmp_path):
    root, url = server
    for name in P.data.IDX_FILES["fashion-mnist"]:
        (root / name).write_bytes(b"not the real file")
    with pytest.raises(P.DataError, match="has md5 .* expected"):
        download("fashion-mnist", data_dir=tmp_path / "data", base_url=url)
    assert not any((tmp_path / "data" / "fashion-mnist").iterdir())   # nothing half-written


def test_download_unreachable_mirror(tmp_path, server):
    _, url = server
    with pytest.raises(P.DataError, match="could not download"):
        download("mnist", data_dir=tmp_path, base_url=url + "missing/")


def test_unknown_dataset_name():
    with pytest.raises(P.ConfigError, match="unknown dataset 'cifar'"):
        download("cifar")
