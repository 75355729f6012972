"""The IDX format of MNIST and Fashion-MNIST, and a data-set base class for it.

`prepare` takes the four files from a local folder (gzip or not) or downloads
them from the official mirrors and checks their published MD5 sums. Every file
is validated (magic number, element type, shape, length) and named in any error.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from wsbench.core.contracts import DataSplits, Split
from wsbench.core.errors import UserError
from wsbench.core.fileio import sha256_file
from wsbench.data.download import download
from wsbench.data.splits import complement, holdout, read_split
from wsbench.data.store import DATA_FILE, StoredDataset

# file stem -> the shape its array must have
IDX_FILES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


def read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzip-compressed or not) into an array."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read it ({err.strerror or err})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise UserError(f"{path}: a broken gzip file ({err}); it is truncated or corrupt") from None
    if not raw:
        raise UserError(f"{path}: empty file, expected an IDX array")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise UserError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    if raw[2] != 0x08:
        raise UserError(f"{path}: IDX element type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise UserError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has "
                        f"{len(raw)} bytes; it is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder}: missing {stem}[.gz]")


class IdxImageDataset(StoredDataset):
    """MNIST-shaped data: 60,000 train and 10,000 test 28x28 images with 10 classes.

    Subclasses give the name, the mirrors with the MD5 of each .gz file, and the
    split file holding the fixed 5,000-image validation draw from train.
    """

    modality = "image"
    mirrors: ClassVar[tuple[str, ...]] = ()
    md5: ClassVar[dict[str, str]] = {}
    split_file: ClassVar[Path]
    split_seed: ClassVar[int] = 0

    @classmethod
    def make_split(cls) -> dict[str, np.ndarray]:
        """How the stored split file was drawn: 5,000 of the 60,000 train images, seed 0."""
        return {"val": holdout(60000, 5000, cls.split_seed)}

    def prepare(self, root: Path, source: Path | None, params: dict) -> None:
        with self.writing(root) as tmp:
            folder = Path(source) if source else self._download(tmp / "raw")
            if not folder.is_dir():
                raise UserError(f"--from {folder}: not a folder")
            arrays, sources = {}, {}
            for stem, shape in IDX_FILES.items():
                path = find_idx(folder, stem)
                arr = read_idx(path)
                if arr.shape != shape:
                    raise UserError(f"{path}: shape {arr.shape}, expected {shape}")
                if arr.ndim == 1 and arr.max() > 9:
                    raise UserError(f"{path}: label {int(arr.max())} outside 0-9")
                arrays[stem.split("-idx")[0].replace("-", "_")] = arr
                sources[stem] = {"path": str(path.resolve()), "sha256": sha256_file(path)}
            self.write_prepared(tmp, arrays, {"dataset": self.name, "sources": sources})

    def _download(self, raw: Path) -> Path:
        raw.mkdir(parents=True)
        for stem in IDX_FILES:
            errors = []
            for mirror in self.mirrors:
                try:
                    download(f"{mirror}{stem}.gz", raw / f"{stem}.gz", self.md5[stem])
                    break
                except UserError as err:
                    errors.append(str(err))
            else:
                raise UserError(f"could not download {stem}.gz from any mirror:\n  " + "\n  ".join(errors)
                                + f"\nGet the files elsewhere and run `wsbench prepare {self.name} --from DIR`.")
        return raw

    def load(self, root: Path, params: dict) -> DataSplits:
        meta, arrays = self.read_prepared(root)
        split, split_sha = read_split(self.split_file, len(arrays["train_labels"]))
        images = lambda x: torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(-1)
        labels = lambda y: torch.from_numpy(y.astype(np.int64))
        xtr, ytr = arrays["train_images"], arrays["train_labels"]
        split["train"] = complement(len(ytr), split["val"])
        return DataSplits(
            name=self.name, modality="image", num_classes=10,
            train=Split(images(xtr[split["train"]]), labels(ytr[split["train"]])),
            val=Split(images(xtr[split["val"]]), labels(ytr[split["val"]])),
            test=Split(images(arrays["t10k_images"]), labels(arrays["t10k_labels"])),
            checksums={DATA_FILE: meta["sha256"], "split": split_sha})
