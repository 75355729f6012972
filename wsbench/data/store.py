"""The prepared-data store: the one place that knows where a prepared data set's files
live (DATA_ROOT/<name>/data.npz and meta.json) and whether they are there, as the base
class of every data set that `prepare` writes (as torch-geometric's Dataset does)."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np

from wsbench.core.contracts import Dataset
from wsbench.core.errors import UserError
from wsbench.core.fileio import atomic_directory, atomic_write_json, sha256_file

DATA_FILE, META_FILE = "data.npz", "meta.json"


class StoredDataset(Dataset):
    """A data set that `prepare` stores as arrays (data.npz) and a description (meta.json,
    with data.npz's checksum, verified on every load)."""

    needs_prepare: ClassVar[bool] = True

    def folder(self, root: Path) -> Path:
        """Where this data set's prepared files (and derived caches such as UDF banks) live."""
        return root / self.name

    def is_prepared(self, root: Path) -> bool:
        folder = self.folder(root)
        return (folder / META_FILE).is_file() and (folder / DATA_FILE).is_file()

    @contextmanager
    def writing(self, root: Path) -> Iterator[Path]:
        """A temporary folder that replaces the prepared folder only if the block succeeds,
        so a failed `prepare` leaves nothing half-written and keeps earlier good data."""
        with atomic_directory(self.folder(root)) as tmp:
            yield tmp

    @staticmethod
    def write_prepared(tmp: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Write data.npz and meta.json (with data.npz's checksum) into a `writing` folder."""
        np.savez(tmp / DATA_FILE, **arrays)
        atomic_write_json(tmp / META_FILE, {**meta, "sha256": sha256_file(tmp / DATA_FILE)})

    def read_prepared(self, root: Path) -> tuple[dict, Any]:
        """meta.json and the arrays of data.npz written by `prepare`, checksum verified."""
        self.require_prepared(root)
        meta_path, data_path = self.folder(root) / META_FILE, self.folder(root) / DATA_FILE
        again = f"run `wsbench prepare {self.name}` again"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"{meta_path}: unreadable ({err}); {again}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            raise UserError(f"{meta_path}: no sha256 of {DATA_FILE}; it was edited or not written by prepare; "
                            f"{again}")
        if sha256_file(data_path) != meta["sha256"]:
            raise UserError(f"{data_path}: checksum mismatch; {again}")
        return meta, np.load(data_path)
