"""scikit-learn's bundled 8x8 digits: the offline default data set (1,797 images)."""
from pathlib import Path

import numpy as np
import torch

from wsbench.api import DataSplits, Dataset, Split, read_split, sha256_bytes


class Digits(Dataset):
    name = "digits"
    description = "scikit-learn digits, 8x8, 10 classes; stratified 1197 / 300 / 300, bundled offline"
    needs_prepare = False
    split_file = Path(__file__).parent / "splits" / "digits.json"

    @staticmethod
    def make_split() -> dict[str, np.ndarray]:
        """Stratified by class: 300 test, then 300 validation, with random_state 0."""
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        y = load_digits().target
        rest, test = train_test_split(np.arange(len(y)), test_size=300, stratify=y, random_state=0)
        train, val = train_test_split(rest, test_size=300, stratify=y[rest], random_state=0)
        return {"train": train, "val": val, "test": test}

    def load(self, root: Path, params: dict) -> DataSplits:
        from sklearn.datasets import load_digits  # here: scikit-learn takes a second to import
        bunch = load_digits()
        x = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(-1)
        y = torch.from_numpy(bunch.target.astype(np.int64))
        split, split_sha = read_split(self.split_file, len(y))
        parts = {k: Split(x[idx], y[idx]) for k, idx in split.items()}
        return DataSplits(self.name, "image", 10, parts["train"], parts["val"], parts["test"],
                          checksums={"images": sha256_bytes(bunch.images.tobytes()), "split": split_sha})
