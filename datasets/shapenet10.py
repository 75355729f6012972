"""ShapeNet-10 of PointDA-10 (Qin et al. 2019): ShapeNet CAD shapes of 10 classes as point clouds.

PointDA-10 ships it as `<class>/{train,test}/*.npy`, one (points, 3) cloud per
shape (about 17,378 train / 2,492 test); validation is a per-class tenth of
train drawn at prepare time (seed 0) and kept in meta.json.
"""
from wsbench.api import PointDA10Dataset


class ShapeNet10(PointDA10Dataset):
    name = "shapenet10"
    description = "PointDA-10 ShapeNet-10 point clouds, 10 classes; train / val (a tenth per class) / test"
    prepare_hint = f" ({PointDA10Dataset.release}; DIR is its shapenet/ folder, <class>/{{train,test}}/*.npy)"
