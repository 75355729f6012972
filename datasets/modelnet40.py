"""ModelNet40 (Wu et al. 2015): 12,311 CAD shapes in 40 classes, as point clouds.

The official split, 9,843 train / 2,468 test; validation is a stored per-class
tenth of train. Sources: a point-cloud folder `<class>/{train,test}/*.npy` (the
PointDA-10 layout, as in ../shared/data/modelnet40) or Princeton's `.off` meshes
(ModelNet40.zip, downloaded without --from), sampled uniformly on their surface.
"""
from pathlib import Path

import numpy as np

from wsbench.api import PointCloudDataset, complement, per_class_holdout


class ModelNet40(PointCloudDataset):
    name = "modelnet40"
    description = "ModelNet40 point clouds, 40 classes; 8,843 train / 1,000 val (per class) / 2,468 test"
    prepare_hint = (" (DIR: a point-cloud folder <class>/{train,test}/*.npy, or the ModelNet40/ folder of "
                    "Princeton's ModelNet40.zip of .off meshes from http://modelnet.cs.princeton.edu/)")
    classes = ("airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone",
               "cup", "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard", "lamp",
               "laptop", "mantel", "monitor", "night_stand", "person", "piano", "plant", "radio", "range_hood", "sink",
               "sofa", "stairs", "stool", "table", "tent", "toilet", "tv_stand", "vase", "wardrobe", "xbox")
    # official train shapes per class, in class order (9,843)
    train_counts = (626, 106, 515, 173, 572, 335, 64, 197, 889, 167, 79, 138, 200, 109, 200, 149, 171, 155, 145, 124,
                    149, 284, 465, 200, 88, 231, 240, 104, 115, 128, 680, 124, 90, 392, 163, 344, 267, 475, 87, 103)
    formats = ("npy", "off")
    url = "http://modelnet.cs.princeton.edu/ModelNet40.zip"
    split_file = Path(__file__).parent / "splits" / "modelnet40.json"

    @classmethod
    def make_split(cls) -> dict[str, np.ndarray]:
        """How the stored split was drawn: `per_class_holdout` (seed 0) of the official
        train list sorted by class folder then file name, whose labels are train_counts."""
        labels = np.repeat(np.arange(len(cls.classes)), cls.train_counts)
        val = per_class_holdout(labels, cls.split_seed)
        return {"train": complement(len(labels), val), "val": val}
