"""ScanNet-10 of PointDA-10 (Qin et al. 2019): scanned real objects of 10 classes.

PointDA-10 ships it as `train_N.h5` / `test_N.h5` files (about 6,110 / 1,769
shapes), each with datasets `data` (shapes, points, C >= 3: xyz first, then
colours) and `label` (shapes,) or (shapes, 1). A file with one bad row is
malformed as a whole (reported, or skipped with skip_bad). Validation is a
per-class tenth of train drawn at prepare time (seed 0) and kept in meta.json.
"""
import re
from pathlib import Path

import numpy as np

from wsbench.api import PointDA10Dataset, UserError, check_cloud, fit_points

H5_NAME = re.compile(r"(train|test)_(\d+)\.h5")


class ScanNet10(PointDA10Dataset):
    name = "scannet10"
    description = "PointDA-10 ScanNet-10 point clouds (.h5), 10 classes; train / val (a tenth per class) / test"
    prepare_hint = f" ({PointDA10Dataset.release}; DIR is its scannet/ folder of train_N.h5 and test_N.h5 files)"
    formats = ("h5",)

    def source_files(self, folder: Path) -> tuple[str, list[tuple[str, Path]]]:
        """Every train_N.h5 and test_N.h5 of folder, in the order of N."""
        found = sorted((m[1], int(m[2]), p) for p in folder.iterdir() if (m := H5_NAME.fullmatch(p.name)))
        for split in ("train", "test"):
            if not any(s == split for s, _, _ in found):
                raise UserError(f"{folder}: no {split}_N.h5 files (PointDA-10's ScanNet-10 layout)")
        return "h5", [(split, path) for split, _, path in found]

    def read_file(self, path: Path, fmt: str, points: int) -> list[tuple[str, int, np.ndarray]]:
        import h5py  # here, not at the top: only this data set needs it

        try:
            with h5py.File(path, "r") as f:
                missing = [key for key in ("data", "label") if not isinstance(f.get(key), h5py.Dataset)]
                if missing:
                    raise UserError(f"{path}: no dataset {' or '.join(missing)} (expected `data` and `label`)")
                data, labels = f["data"][()], f["label"][()]
        except OSError as err:
            raise UserError(f"{path}: not a readable .h5 file ({err})") from None
        if data.ndim != 3 or len(data) == 0:
            raise UserError(f"{path}: `data` has shape {data.shape}, expected (shapes, points, C >= 3)")
        if labels.shape not in ((len(data),), (len(data), 1)):
            raise UserError(f"{path}: `label` has shape {labels.shape}, expected ({len(data)},) or ({len(data)}, 1)")
        labels = labels.ravel()
        bad = np.flatnonzero(~np.isin(labels, np.arange(len(self.classes))))
        if len(bad):
            raise UserError(f"{path}: row {bad[0]} has label {labels[bad[0]].item()!r}, not a class index "
                            f"0-{len(self.classes) - 1}")
        shapes = []
        for row, (cloud, label) in enumerate(zip(data, labels)):
            name, where = f"{path.name}[{row}]", f"{path} row {row}"
            shapes.append((name, int(label), fit_points(check_cloud(cloud, where), points, name, where)))
        return shapes
