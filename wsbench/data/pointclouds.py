"""Point-cloud data sets (ModelNet40, ShapeNet10, ScanNet10) and the checks of their files.

Every shape, whatever its source (an .npy cloud, a row of an .h5 file, an .off mesh
sampled uniformly on its surface), becomes `points` float32 xyz points centred on
their mean and scaled so that the farthest point has norm 1, so that sources are
interchangeable. A malformed file is named in the error, with what is wrong.
"""
from __future__ import annotations

import shutil
import zipfile
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from tqdm import tqdm

from wsbench.core.contracts import DataSplits, Param, Split
from wsbench.core.errors import UserError
from wsbench.data.download import download
from wsbench.data.splits import complement, indices_checksum, per_class_holdout, read_split
from wsbench.data.store import DATA_FILE, META_FILE, StoredDataset
from wsbench.data.udf import attach_udf

SPLITS = ("train", "test")
KEPT = "the prepared data under the data root is left as it was"
# the 10 classes that PointDA-10's ModelNet, ShapeNet and ScanNet parts share, in its label order
POINTDA10_CLASSES = ("bathtub", "bed", "bookshelf", "cabinet", "chair", "lamp", "monitor", "plant", "sofa", "table")
POINTDA10_SOURCE = ("the real data is not distributed with wsbench; get the PointDA-10 release (Qin et al. 2019, "
                    "https://github.com/canqin001/PointDAN)")


def normalize(points: np.ndarray) -> np.ndarray:
    """Centre on the mean and scale so that the farthest point has norm 1 (the unit sphere)."""
    centred = points.astype(np.float64) - points.mean(axis=0)
    return (centred / np.linalg.norm(centred, axis=1).max()).astype(np.float32)


def check_cloud(array: np.ndarray, where: str) -> np.ndarray:
    """The xyz columns of a (P, C >= 3) array as float32: extra columns (normals,
    colours) are dropped. Empty, non-finite and one-point (all coinciding) clouds are refused."""
    if array.size == 0:
        raise UserError(f"{where}: empty array (shape {array.shape})")
    if array.dtype.kind not in "fiu":
        raise UserError(f"{where}: {array.dtype} array, expected numbers")
    if array.ndim != 2 or array.shape[1] < 3:
        raise UserError(f"{where}: shape {array.shape}, expected (points, 3), or more columns with xyz first")
    xyz = array[:, :3].astype(np.float32)
    if not np.isfinite(xyz).all():
        counts = [(what, int(test(xyz).any(axis=1).sum())) for what, test in (("NaN", np.isnan),
                                                                              ("infinite", np.isinf))]
        bad = " and ".join(f"{n} of {len(xyz)} points have {what} coordinates" for what, n in counts if n)
        raise UserError(f"{where}: {bad}")
    if not np.ptp(xyz, axis=0).any():
        raise UserError(f"{where}: all {len(xyz)} points coincide")
    return xyz


def load_npy_cloud(path: Path) -> np.ndarray:
    """One (P, 3) float32 cloud from an .npy file (its first 3 columns if it has more)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise UserError(f"{path}: not a readable .npy array ({err})") from None
    if not isinstance(array, np.ndarray):
        raise UserError(f"{path}: an .npz archive, expected one .npy array")
    return check_cloud(array, str(path))


def sample_mesh(path: Path, n_points: int, seed: int) -> np.ndarray:
    """n_points drawn uniformly on the surface of an .off mesh, as float32.

    trimesh's OFF reader also takes the header glued to the counts ("OFF490 518 0")
    of some of Princeton's ModelNet files; a test keeps it that way.
    """
    import trimesh  # here, not at the top: it takes 0.6 s to import and only meshes need it

    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as err:  # trimesh's readers raise many types on a bad file (ValueError, IndexError, ...)
        raise UserError(f"{path}: unreadable .off mesh ({type(err).__name__}: {err})") from None
    if len(mesh.faces) == 0:
        raise UserError(f"{path}: empty mesh (no faces)")
    if not mesh.area > 0:
        raise UserError(f"{path}: empty mesh (surface area {mesh.area:g})")
    points, _ = trimesh.sample.sample_surface(mesh, n_points, seed=seed)
    return check_cloud(points, str(path))


def shape_seed(name: str) -> int:
    """A shape's own sampling seed, so that its points do not depend on which other
    shapes are present (e.g. after skipped files)."""
    return zlib.crc32(name.encode())


def fit_points(cloud: np.ndarray, n: int, name: str, where: str) -> np.ndarray:
    """Exactly n points, normalised; a larger cloud is subsampled without replacement."""
    if len(cloud) < n:
        raise UserError(f"{where}: {len(cloud)} points, fewer than points={n}")
    if len(cloud) > n:
        cloud = cloud[np.sort(np.random.default_rng(shape_seed(name)).choice(len(cloud), n, replace=False))]
    return normalize(cloud)


class PointCloudDataset(StoredDataset):
    """Labelled shapes as point clouds: the official train and test lists, and
    validation drawn per class from train.

    Subclasses give `classes` (index = label) and the source `formats` that
    `prepare` reads. With a `split_file` the validation draw is the stored one,
    which must fit the prepared train list; without one, `per_class_holdout` of the
    train labels (seed 0) is drawn at prepare time and kept in meta.json. The
    default reader takes `<class>/{train,test}/*.<format>`, ignoring other files.
    """

    modality = "pointcloud"
    writes_data_root = True  # the UDF query banks are cached beside the prepared files
    classes: ClassVar[tuple[str, ...]] = ()
    formats: ClassVar[tuple[str, ...]] = ("npy",)
    url: ClassVar[str] = ""  # a zip archive `prepare` downloads without --from ("": --from is required)
    split_file: ClassVar[Path | None] = None
    split_seed: ClassVar[int] = 0
    train_counts: ClassVar[tuple[int, ...] | None] = None  # the official train shapes per class, if fixed
    params = {
        "points": Param(1024, "points per shape: larger clouds are subsampled (seeded by shape), meshes sampled",
                        low=1),
        "skip_bad": Param(False, "prepare skips malformed files and lists them in meta.json, instead of stopping"),
        "udf_per_level": Param(800, "UDF queries per shape at each of 5 levels (surface, 3 noise levels, uniform)",
                               low=1),
        "udf_seed": Param(0, "seed of the UDF query banks (cached under the data root per seed)", low=0),
    }

    def prepare(self, root: Path, source: Path | None, params: dict) -> None:
        if params["points"] < 1:
            raise UserError(f"data set {self.name!r}: points={params['points']}, expected at least 1")
        with self.writing(root) as tmp:
            folder = Path(source) if source else self.download(tmp / "raw")
            if not folder.is_dir():
                raise UserError(f"--from {folder}: not a folder")
            fmt, files = self.source_files(folder)
            shapes, skipped = {split: [] for split in SPLITS}, []
            for split, path in tqdm(files, desc=f"reading {self.name}", unit="file", disable=None, leave=False):
                try:
                    shapes[split] += self.read_file(path, fmt, params["points"])
                except UserError as err:
                    if not params["skip_bad"]:
                        raise UserError(f"{err}\n(--data-param skip_bad=true skips malformed files and records "
                                        "them)") from None
                    skipped.append({"split": split, "file": str(path.relative_to(folder)), "reason": str(err)})
            arrays = {}
            for split, kept in shapes.items():
                if not kept:
                    raise UserError(f"{folder}: no usable {split} shapes ({len(skipped)} files skipped)")
                names, labels, clouds = zip(*kept)
                arrays.update({f"{split}_points": np.stack(clouds), f"{split}_labels": np.array(labels, np.int64),
                               f"{split}_names": np.array(names)})
            shutil.rmtree(tmp / "raw", ignore_errors=True)  # a download is not kept: data.npz has it all
            meta = {"dataset": self.name, "source": str(folder.resolve()) if source else self.url, "format": fmt,
                    "points": params["points"], "skipped": skipped}
            if self.split_file is None:
                meta["val"] = per_class_holdout(arrays["train_labels"], self.split_seed).tolist()
            self.check_train_list(arrays["train_labels"], meta, folder)  # before the good data is replaced
            self.write_prepared(tmp, arrays, meta)
        if skipped:
            print(f"skipped {len(skipped)} malformed files (listed in {self.folder(root) / META_FILE}):")
            print("\n".join(f"  {entry['reason']}" for entry in skipped))

    def download(self, raw: Path) -> Path:
        """Fetch `url` (a zip archive) and unpack it into raw; its top folder, named
        like the archive, is the source."""
        if not self.url:
            raise UserError(f"{self.name} cannot be downloaded; run `wsbench prepare {self.name} --from DIR`"
                            f"{self.prepare_hint}")
        raw.mkdir(parents=True)
        archive = raw / Path(self.url).name
        try:
            download(self.url, archive, None)
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(raw)
        except (UserError, zipfile.BadZipFile, OSError) as err:
            raise UserError(f"could not fetch {self.url}: {err}\nGet it elsewhere, unzip it and run "
                            f"`wsbench prepare {self.name} --from DIR`{self.prepare_hint}") from None
        return raw / Path(self.url).stem

    def source_files(self, folder: Path) -> tuple[str, list[tuple[str, Path]]]:
        """The format found and every (split, file), in class order then file name:
        the order that a stored split indexes."""
        found = {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
        wrong = [f"{what}: {', '.join(sorted(names))}" for what, names in
                 (("missing", set(self.classes) - found), ("unknown", found - set(self.classes))) if names]
        if wrong:
            raise UserError(f"{folder}: expected one folder per class of {self.name} "
                            f"(<class>/{{train,test}}/); {'; '.join(wrong)}")
        files = []
        for name in self.classes:
            for split in SPLITS:
                if not (folder / name / split).is_dir():
                    raise UserError(f"{folder / name / split}: missing (every class has train/ and test/)")
                files += [(split, p) for p in sorted((folder / name / split).iterdir())
                          if p.suffix[1:] in self.formats]
        fmts = sorted({p.suffix[1:] for _, p in files})
        if not fmts:
            raise UserError(f"{folder}: no .{' or .'.join(self.formats)} files in the class folders")
        if len(fmts) > 1:
            raise UserError(f"{folder}: both {' and '.join(fmts)} files; give a folder of one format")
        return fmts[0], files

    def read_file(self, path: Path, fmt: str, points: int) -> list[tuple[str, int, np.ndarray]]:
        """The (name, label, cloud) shapes of one source file; a malformed file raises."""
        name = f"{path.parent.parent.name}/{path.stem}"
        cloud = sample_mesh(path, points, shape_seed(name)) if fmt == "off" else load_npy_cloud(path)
        return [(name, self.classes.index(path.parent.parent.name), fit_points(cloud, points, name, str(path)))]

    def load(self, root: Path, params: dict) -> DataSplits:
        folder = self.folder(root)
        meta, arrays = self.read_prepared(root)
        if meta["points"] != params["points"]:
            raise UserError(f"{folder} was prepared with points={meta['points']}, not {params['points']}; "
                            f"run `wsbench prepare {self.name} --from DIR --data-param points={params['points']}`")
        x, y = arrays["train_points"], arrays["train_labels"]
        train, val, split_sha = self.train_val(meta, len(y))
        if meta["skipped"] and not params["skip_bad"]:
            raise UserError(f"{folder} was prepared without {len(meta['skipped'])} malformed files (listed in "
                            f"{folder / 'meta.json'}); run with `--data-param skip_bad=true` to use it, or prepare complete data")
        data = DataSplits(
            name=self.name, modality="pointcloud", num_classes=len(self.classes),
            train=Split(torch.from_numpy(x[train]), torch.from_numpy(y[train])),
            val=Split(torch.from_numpy(x[val]), torch.from_numpy(y[val])),
            test=Split(torch.from_numpy(arrays["test_points"]), torch.from_numpy(arrays["test_labels"])),
            checksums={DATA_FILE: meta["sha256"], "split": split_sha})
        attach_udf(data, folder, params["udf_per_level"], params["udf_seed"],
                   progress=lambda it, **kw: tqdm(it, disable=None, leave=False, **kw))
        return data

    def check_train_list(self, labels: np.ndarray, meta: dict, folder: Path) -> None:
        """Refuse a source whose train list does not fit the stored split (or the official
        per-class counts), so that `prepare` never replaces good data with data no run can use."""
        try:
            self.train_val(meta, len(labels))
        except UserError as err:
            raise UserError(f"--from {folder}: {err}; {KEPT}") from None
        if self.train_counts is not None:
            counts = np.bincount(labels, minlength=len(self.classes))
            wrong = [f"{self.classes[c]} {counts[c]} (expected {n})" for c, n in enumerate(self.train_counts)
                     if counts[c] != n]
            if wrong:
                more = ", ..." if len(wrong) > 4 else ""
                raise UserError(f"--from {folder}: the train shapes per class differ from {self.name}'s official "
                                f"list ({len(wrong)} classes: {', '.join(wrong[:4])}{more}); {KEPT}")

    def train_val(self, meta: dict, n_train: int) -> tuple[np.ndarray, np.ndarray, str]:
        """Train and validation indices into the prepared train list, and the split's checksum."""
        if self.split_file is None:
            val = np.asarray(meta["val"], dtype=np.int64)
            return complement(n_train, val), val, indices_checksum({"val": meta["val"]})
        split, split_sha = read_split(self.split_file)
        expected = len(split["train"]) + len(split["val"])
        if n_train != expected:
            skipped = sum(entry["split"] == "train" for entry in meta["skipped"])
            why = (f": prepare skipped {skipped} malformed train files, and a changed train list cannot use the "
                   f"stored split; repair or replace those files and prepare again" if skipped else "")
            raise UserError(f"split file {self.split_file} is for {expected} train shapes, but the prepared "
                            f"{self.name} has {n_train}{why}")
        if not np.array_equal(np.sort(np.concatenate([split["train"], split["val"]])), np.arange(n_train)):
            raise UserError(f"split file {self.split_file}: its train and val parts do not share out the "
                            f"{n_train} train shapes (indices 0-{n_train - 1}, each in one part)")
        return split["train"], split["val"], split_sha


class PointDA10Dataset(PointCloudDataset):
    """A part of PointDA-10 (Qin et al. 2019): the 10 classes its parts share, in its label
    order. Its real data is not distributed with wsbench: a subclass's `prepare_hint`
    starts with `release`, where to get it, then says which of its folders DIR is."""

    classes = POINTDA10_CLASSES
    release: ClassVar[str] = POINTDA10_SOURCE
