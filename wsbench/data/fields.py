"""The one adapter from data splits to the INR toolbox: each split as a Field, and the
SIREN layout whose inputs and outputs fit the data (2-D pixels to channels, 3-D points
to one unsigned distance)."""
from __future__ import annotations

from wsbench.core.contracts import DataSplits, HeldOutSplit, Split
from wsbench.core.errors import UserError
from wsbench.inr.fields import Field
from wsbench.inr.siren import SirenLayout, pixel_grid

SPLITS = ("train", "val", "test")


def field_of(split: Split | HeldOutSplit, modality: str) -> Field:
    """Images: values at the shared pixel grid (MSE); point clouds: their UDF banks (L1, as in inr2vec)."""
    if modality == "image":
        n, h, w, c = split.x.shape
        return Field(pixel_grid(h, w), split.x.reshape(n, h * w, c), "mse")
    if modality == "pointcloud":
        if split.coords is None or split.values is None:
            raise UserError("point-cloud split without UDF queries; load it through its data set")
        return Field(split.coords, split.values, "l1")
    raise UserError(f"no field for modality {modality!r}")


def split_fields(data: DataSplits) -> dict[str, Field]:
    """The train, val and test splits as Fields."""
    return {name: field_of(getattr(data, name), data.modality) for name in SPLITS}


def siren_layout(data: DataSplits, hidden: tuple[int, ...], w0: float = 30.0) -> SirenLayout:
    """A SIREN with these hidden widths from the data's coordinates to its signal."""
    in_dim = 2 if data.modality == "image" else 3
    out_dim = data.train.x.shape[-1] if data.modality == "image" else 1
    return SirenLayout((in_dim, *hidden, out_dim), w0)
