import json
import re
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import ROOT, cloud, tiny_shapenet10, write_class_folders

from wsbench.core.errors import DataNotPrepared, UserError
from wsbench.core.params import resolve
from wsbench.data.pointclouds import POINTDA10_CLASSES, normalize, sample_mesh, shape_seed
from wsbench.data.splits import read_split, write_split

SHARED_MODELNET40 = ROOT.parent / "shared" / "data" / "modelnet40"

CUBE = ("8 12 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n1 0 1\n1 1 1\n0 1 1\n"
        "3 0 2 1\n3 0 3 2\n3 4 5 6\n3 4 6 7\n3 0 1 5\n3 0 5 4\n3 2 3 7\n3 2 7 6\n3 1 2 6\n3 1 6 5\n3 0 4 7\n3 0 7 3\n")
TETRAHEDRON = "OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n"


@pytest.fixture
def modelnet40(registry, monkeypatch, tmp_path):
    """ModelNet40 with a stored split for 2 train shapes per class, as the tiny folders have."""
    cls = registry.dataset("modelnet40")
    monkeypatch.setattr(cls, "train_counts", (2,) * len(cls.classes))
    write_split(tmp_path / "split.json", cls.make_split(), "2 train shapes per class")
    monkeypatch.setattr(cls, "split_file", tmp_path / "split.json")
    return cls


def load(registry, name: str, data_root: Path, **params):
    cls = registry.dataset(name)
    return cls().load(data_root, resolve(cls, {k: str(v) for k, v in {"udf_per_level": 8, **params}.items()}))


def assert_normalised(points: np.ndarray) -> None:
    assert points.dtype == np.float32
    assert np.abs(points.mean(axis=-2)).max() < 1e-5
    assert np.allclose(np.linalg.norm(points, axis=-1).max(axis=-1), 1.0, atol=1e-5)


def test_normalize_centres_on_the_mean_into_the_unit_sphere():
    points = cloud(np.random.default_rng(0)).astype(np.float64)
    out = normalize(points)
    assert_normalised(out)
    centred = points - points.mean(axis=0)
    assert np.allclose(out, centred / np.linalg.norm(centred, axis=1).max(), atol=1e-6)


def test_modelnet40_npy_folder_prepares_and_loads(tmp_path, dirs, cli, registry, modelnet40):
    data_root, _ = dirs
    write_class_folders(tmp_path / "src", modelnet40.classes, columns=6)
    (tmp_path / "src" / "SHA256SUMS").write_text("ignored\n")
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"), "--data-param", "points=64")
    assert code == 0, err
    arrays = np.load(data_root / "modelnet40" / "data.npz")
    assert arrays["train_names"][:3].tolist() == ["airplane/airplane_train0000", "airplane/airplane_train0001",
                                                  "bathtub/bathtub_train0000"]
    assert arrays["train_labels"].tolist() == np.repeat(np.arange(40), 2).tolist()
    src = np.load(tmp_path / "src" / "bathtub" / "test" / "bathtub_test0000.npy")
    chosen = np.sort(np.random.default_rng(shape_seed("bathtub/bathtub_test0000")).choice(100, 64, replace=False))
    assert np.allclose(arrays["test_points"][1], normalize(src[chosen, :3]))  # 64 of 100 points, xyz of 6 columns
    splits = load(registry, "modelnet40", data_root, points=64)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 40, 40)
    assert splits.modality == "pointcloud" and splits.num_classes == 40
    assert splits.train.x.shape == (40, 64, 3) and str(splits.train.y.dtype) == "torch.int64"
    assert_normalised(splits.test.x.numpy())
    assert set(splits.checksums) == {"data.npz", "split", "udf_train", "udf_val", "udf_test"}
    assert splits.test.coords.shape == (40, 40, 3) and splits.test.values.shape == (40, 40, 1)
    assert len(list((data_root / "modelnet40").glob("udf-*.npz"))) == 3
    meta = json.loads((data_root / "modelnet40" / "meta.json").read_text())
    assert meta["format"] == "npy" and meta["skipped"] == [] and meta["source"] == str((tmp_path / "src").resolve())


def test_prepare_refuses_a_source_that_misses_the_stored_split_and_keeps_the_good_data(tmp_path, dirs, cli,
                                                                                        registry):
    """An incomplete but valid tree (80 train shapes where the official list has 9,843) is
    refused before anything is replaced: the data prepared before stays, byte for byte."""
    data_root, _ = dirs
    cls = registry.dataset("modelnet40")
    good = data_root / "modelnet40"
    good.mkdir(parents=True)
    (good / "data.npz").write_bytes(b"earlier good data")
    (good / "meta.json").write_text("{}")
    write_class_folders(tmp_path / "src", cls.classes)
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"), "--data-param", "points=64")
    assert code == 2 and "Traceback" not in err
    assert f"--from {tmp_path / 'src'}: split file " in err
    assert "is for 9843 train shapes, but the prepared modelnet40 has 80" in err and "left as it was" in err
    assert (good / "data.npz").read_bytes() == b"earlier good data"
    assert sorted(p.name for p in data_root.iterdir()) == ["modelnet40"]  # no temporary folder left either


def test_sample_mesh_lies_on_the_surface_and_reads_the_glued_header(tmp_path):
    (tmp_path / "cube.off").write_text("OFF\n" + CUBE)
    (tmp_path / "glued.off").write_text("OFF" + CUBE)  # as in some of Princeton's ModelNet files
    (tmp_path / "tetra.off").write_text(TETRAHEDRON)
    cube = sample_mesh(tmp_path / "cube.off", 500, seed=3)
    assert cube.shape == (500, 3) and cube.dtype == np.float32
    assert np.array_equal(sample_mesh(tmp_path / "glued.off", 500, seed=3), cube)
    assert not np.array_equal(sample_mesh(tmp_path / "cube.off", 500, seed=4), cube)
    assert cube.min() >= 0 and cube.max() <= 1
    assert (np.isclose(cube, 0, atol=1e-6) | np.isclose(cube, 1, atol=1e-6)).any(axis=1).all()  # on a face
    tetra = sample_mesh(tmp_path / "tetra.off", 500, seed=0)
    assert tetra.min() >= -1e-6 and tetra.sum(axis=1).max() <= 1 + 1e-6
    on_face = np.isclose(tetra, 0, atol=1e-6).any(axis=1) | np.isclose(tetra.sum(axis=1), 1, atol=1e-5)
    assert on_face.all()
    # all four faces are sampled, in proportion to their areas (3 of area 0.5, 1 of area 0.866)
    assert np.isclose(tetra.sum(axis=1), 1, atol=1e-5).mean() == pytest.approx(0.866 / 2.366, abs=0.07)


def test_modelnet40_off_meshes_are_sampled_to_the_asked_number_of_points(tmp_path, dirs, cli, registry, modelnet40):
    data_root, _ = dirs
    for i, name in enumerate(modelnet40.classes):
        for split, count in (("train", 2), ("test", 1)):
            (tmp_path / "src" / name / split).mkdir(parents=True)
            for j in range(count):
                text = TETRAHEDRON if split == "test" else ("OFF" if i % 2 else "OFF\n") + CUBE
                (tmp_path / "src" / name / split / f"{name}_{split}{j:04d}.off").write_text(text)
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"), "--data-param", "points=48")
    assert code == 0, err
    assert json.loads((data_root / "modelnet40" / "meta.json").read_text())["format"] == "off"
    splits = load(registry, "modelnet40", data_root, points=48)
    assert splits.train.x.shape == (40, 48, 3) and splits.test.x.shape == (40, 48, 3)
    assert_normalised(splits.train.x.numpy())
    assert_normalised(splits.test.x.numpy())
    # each shape has its own seed: two copies of one mesh get different points
    arrays = np.load(data_root / "modelnet40" / "data.npz")
    assert not np.array_equal(arrays["train_points"][0], arrays["train_points"][1])


def test_class_folders_must_be_complete_and_of_one_format(tmp_path, dirs, cli, registry):
    classes = registry.dataset("modelnet40").classes
    write_class_folders(tmp_path / "src", classes[:-1])
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"))
    assert code == 2 and "expected one folder per class of modelnet40" in err and "missing: xbox" in err
    write_class_folders(tmp_path / "src", classes[-1:])
    (tmp_path / "src" / "xbox" / "test" / "xbox_0002.off").write_text(TETRAHEDRON)
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"))
    assert code == 2 and "both npy and off files" in err
    assert not dirs[0].exists() or list(dirs[0].iterdir()) == []


def test_shapenet10_npy_layout_round_trip(tmp_path, dirs, cli, registry):
    data_root, _ = dirs
    write_class_folders(tmp_path / "src", POINTDA10_CLASSES, train=12, test=3)
    code, _, err = cli("prepare", "shapenet10", "--from", str(tmp_path / "src"), "--data-param", "points=100")
    assert code == 0, err
    splits = load(registry, "shapenet10", data_root, points=100)
    # a tenth of each class's 12 train shapes, rounded up: 2 per class
    assert (len(splits.train), len(splits.val), len(splits.test)) == (100, 20, 30)
    assert np.bincount(splits.val.y.numpy()).tolist() == [2] * 10
    assert splits.test.y.tolist() == np.repeat(np.arange(10), 3).tolist()
    assert splits.train.x.shape[1:] == (100, 3) and splits.num_classes == 10
    src = np.load(tmp_path / "src" / "table" / "test" / "table_test0002.npy")
    assert np.allclose(splits.test.x[-1].numpy(), normalize(src))
    meta = json.loads((data_root / "shapenet10" / "meta.json").read_text())
    assert splits.val.y.tolist() == np.load(data_root / "shapenet10" / "data.npz")["train_labels"][meta["val"]].tolist()
    assert load(registry, "shapenet10", data_root, points=100).checksums == splits.checksums
    with pytest.raises(UserError, match=r"prepared with points=100, not 1024; run .*--data-param points=1024"):
        load(registry, "shapenet10", data_root)


def write_h5(path: Path, data: np.ndarray, label: np.ndarray | None) -> None:
    """An .h5 file as PointDA-10's ScanNet-10 has them: datasets `data` and `label`."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data)
        if label is not None:
            f.create_dataset("label", data=label)


def test_scannet10_h5_layout_round_trip(tmp_path, dirs, cli, registry):
    data_root, _ = dirs
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    labels = {"train_2.h5": np.tile(np.arange(10), 2), "train_10.h5": np.arange(10)[::-1],
              "test_0.h5": np.arange(10)}
    for name, y in labels.items():
        data = np.stack([cloud(rng, points=40, columns=6) for _ in y])  # xyz and colours
        write_h5(src / name, data, y[:, None] if name == "train_10.h5" else y.astype(np.uint8))
    (src / "notes.txt").write_text("ignored\n")
    code, _, err = cli("prepare", "scannet10", "--from", str(src), "--data-param", "points=32")
    assert code == 0, err
    arrays = np.load(data_root / "scannet10" / "data.npz")
    # files in the order of N (train_2 before train_10), rows in order
    assert arrays["train_labels"].tolist() == [*labels["train_2.h5"], *labels["train_10.h5"]]
    assert arrays["train_names"][[0, 20]].tolist() == ["train_2.h5[0]", "train_10.h5[0]"]
    assert arrays["train_points"].shape == (30, 32, 3)
    splits = load(registry, "scannet10", data_root, points=32)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (20, 10, 10)
    assert splits.test.y.tolist() == list(range(10))
    assert_normalised(splits.train.x.numpy())


MALFORMED = {  # file content -> what the error says
    "shape": (lambda p: np.save(p, np.zeros((50, 2), np.float32)), r"shape \(50, 2\), expected \(points, 3\)"),
    "nan": (lambda p: np.save(p, np.vstack([np.eye(3), [[np.nan, 0, 0]]])), "1 of 4 points have NaN"),
    "inf": (lambda p: np.save(p, np.vstack([np.eye(3), [[np.nan, 0, 0], [0, np.inf, np.nan]]])),
            "2 of 5 points have NaN coordinates and 1 of 5 points have infinite coordinates"),
    "empty": (lambda p: np.save(p, np.zeros((0, 3), np.float32)), r"empty array \(shape \(0, 3\)\)"),
    "few": (lambda p: np.save(p, np.random.default_rng(0).normal(size=(10, 3))), "10 points, fewer than points=32"),
    "text": (lambda p: p.write_text("not numpy"), "not a readable .npy array"),
    "offgarbage": (lambda p: p.write_text("OFF\nthis is not a mesh\n"), "unreadable .off mesh"),
    "offempty": (lambda p: p.write_text("OFF\n0 0 0\n"), r"empty mesh \(no faces\)"),
    "offflat": (lambda p: p.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n"), r"empty mesh \(surface area 0\)"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_files_are_rejected_by_name(tmp_path, dirs, cli, registry, kind):
    classes = registry.dataset("modelnet40").classes
    if kind.startswith("off"):
        for name in classes:
            for split in ("train", "test"):
                (tmp_path / "src" / name / split).mkdir(parents=True)
                (tmp_path / "src" / name / split / f"{name}_0001.off").write_text(TETRAHEDRON)
        bad = tmp_path / "src" / "chair" / "test" / "chair_0002.off"
    else:
        write_class_folders(tmp_path / "src", classes)
        bad = tmp_path / "src" / "chair" / "test" / "chair_0002.npy"
    write, says = MALFORMED[kind]
    write(bad)
    code, _, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"), "--data-param", "points=32")
    assert code == 2 and re.search(f"{re.escape(str(bad))}: .*{says}", err) and "skip_bad=true" in err, err
    assert not dirs[0].exists() or list(dirs[0].iterdir()) == []


def test_a_split_file_must_share_out_the_train_shapes(tmp_path, registry):
    split = tmp_path / "split.json"
    write_split(split, {"train": np.array([0, 1, 5]), "val": np.array([3])}, "by hand")
    dataset = type("Edited", (registry.dataset("modelnet40"),), {"split_file": split})()
    with pytest.raises(UserError, match=re.escape(f"split file {split}: its train and val parts do not share out "
                                                  "the 4 train shapes (indices 0-3, each in one part)")):
        dataset.train_val({"skipped": []}, 4)


MALFORMED_H5 = {  # test_0.h5 from good (data, label) -> what the error says
    "nolabel": (lambda p, x, y: write_h5(p, x, None), "no dataset label"),
    "range": (lambda p, x, y: write_h5(p, x, np.where(y == 3, 12, y)), "row 3 has label 12, not a class index 0-9"),
    "nan": (lambda p, x, y: write_h5(p, x * np.where(y == 5, np.nan, 1)[:, None, None], y),
            "row 5: 40 of 40 points have NaN"),
    "labels": (lambda p, x, y: write_h5(p, x, y[:9]), r"`label` has shape \(9,\), expected \(10,\)"),
    "garbage": (lambda p, x, y: p.write_bytes(b"\0" * 100), "not a readable .h5 file"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED_H5))
def test_malformed_h5_files_are_rejected_by_name(tmp_path, dirs, cli, kind):
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    data, label = np.stack([cloud(rng, points=40) for _ in range(10)]), np.arange(10)
    write_h5(src / "train_0.h5", data, label)
    write, says = MALFORMED_H5[kind]
    write(src / "test_0.h5", data, label)
    code, _, err = cli("prepare", "scannet10", "--from", str(src), "--data-param", "points=32")
    assert code == 2 and re.search(f"{re.escape(str(src / 'test_0.h5'))}.*{says}", err), err


def test_skip_bad_skips_malformed_files_and_records_them(tmp_path, dirs, cli, registry):
    data_root, _ = dirs
    write_class_folders(tmp_path / "src", POINTDA10_CLASSES, train=3, test=2)
    np.save(tmp_path / "src" / "lamp" / "train" / "lamp_9999.npy", np.full((100, 3), np.nan))
    (tmp_path / "src" / "sofa" / "test" / "sofa_9999.npy").write_bytes(b"")
    code, out, err = cli("prepare", "shapenet10", "--from", str(tmp_path / "src"), "--data-param", "points=64",
                         "--data-param", "skip_bad=true")
    assert code == 0, err
    assert "skipped 2 malformed files" in out and "lamp_9999.npy" in out and "sofa_9999.npy" in out
    meta = json.loads((data_root / "shapenet10" / "meta.json").read_text())
    assert [(s["split"], s["file"]) for s in meta["skipped"]] == [("train", "lamp/train/lamp_9999.npy"),
                                                                 ("test", "sofa/test/sofa_9999.npy")]
    assert "NaN" in meta["skipped"][0]["reason"] and "not a readable .npy array" in meta["skipped"][1]["reason"]
    with pytest.raises(UserError, match="prepared without 2 malformed files.*skip_bad=true"):
        load(registry, "shapenet10", data_root, points=64)
    splits = load(registry, "shapenet10", data_root, points=64, skip_bad=True)
    assert len(splits.train) + len(splits.val) == 30 and len(splits.test) == 20


def test_skipped_train_files_cannot_use_the_stored_split(tmp_path, dirs, cli, registry, modelnet40):
    data_root, _ = dirs
    write_class_folders(tmp_path / "src", modelnet40.classes)
    np.save(tmp_path / "src" / "desk" / "train" / "desk_train0001.npy", np.zeros((100, 2)))
    code, out, err = cli("prepare", "modelnet40", "--from", str(tmp_path / "src"), "--data-param", "points=64",
                         "--data-param", "skip_bad=true")
    assert code == 2 and "is for 80 train shapes, but the prepared modelnet40 has 79: prepare skipped 1 " \
                         "malformed train files" in err and "left as it was" in err
    assert not (data_root / "modelnet40").exists()


def test_modelnet40_download_unpacks_the_archive(tmp_path, dirs, monkeypatch, registry, modelnet40):
    data_root, _ = dirs
    with zipfile.ZipFile(tmp_path / "ModelNet40.zip", "w") as zipped:
        for name in modelnet40.classes:
            for split, count in (("train", 2), ("test", 1)):
                for j in range(count):
                    zipped.writestr(f"ModelNet40/{name}/{split}/{name}_{split}{j:04d}.off", TETRAHEDRON)
    monkeypatch.setattr(modelnet40, "url", f"file://{tmp_path}/ModelNet40.zip")
    modelnet40().prepare(data_root, None, {"points": 16, "skip_bad": False})
    assert sorted(p.name for p in (data_root / "modelnet40").iterdir()) == ["data.npz", "meta.json"]
    meta = json.loads((data_root / "modelnet40" / "meta.json").read_text())
    assert meta["source"] == modelnet40.url and meta["format"] == "off"
    monkeypatch.setattr(modelnet40, "url", f"file://{tmp_path}/missing/ModelNet40.zip")
    with pytest.raises(UserError, match=r"could not fetch .*missing/ModelNet40\.zip.*\n.*--from DIR"):
        modelnet40().prepare(data_root / "other", None, {"points": 16, "skip_bad": False})
    assert not (data_root / "other").exists() or list((data_root / "other").iterdir()) == []


@pytest.mark.parametrize("name", ["shapenet10", "scannet10"])
def test_pointda10_sets_say_where_to_get_the_data(dirs, cli, registry, name):
    code, _, err = cli("prepare", name)
    assert code == 2 and "not distributed with wsbench" in err and "https://github.com/canqin001/PointDAN" in err
    with pytest.raises(DataNotPrepared, match=f"wsbench prepare {name} --from DIR.*canqin001/PointDAN"):
        load(registry, name, dirs[0])


def test_stored_modelnet40_split_is_what_its_recipe_draws(registry):
    cls = registry.dataset("modelnet40")
    stored, _ = read_split(cls.split_file)
    drawn = cls.make_split()
    assert set(stored) == set(drawn) == {"train", "val"}
    for part in stored:
        assert np.array_equal(stored[part], drawn[part])
    labels = np.repeat(np.arange(40), cls.train_counts)
    assert np.bincount(labels[stored["val"]]).tolist() == [-(-n // 10) for n in cls.train_counts]
    assert len(stored["train"]) == 8843 and not set(stored["train"]) & set(stored["val"])


@pytest.mark.skipif(not SHARED_MODELNET40.is_dir(), reason="../shared/data/modelnet40 is not beside this checkout")
def test_real_modelnet40_from_shared_folder(dirs, cli, registry):
    data_root, _ = dirs
    cls = registry.dataset("modelnet40")
    assert tuple(sorted(p.name for p in SHARED_MODELNET40.iterdir() if p.is_dir())) == cls.classes
    assert tuple(len(list((SHARED_MODELNET40 / c / "train").glob("*.npy"))) for c in cls.classes) == cls.train_counts
    start = time.perf_counter()
    assert cli("prepare", "modelnet40", "--from", str(SHARED_MODELNET40))[0] == 0
    assert time.perf_counter() - start < 60
    splits = load(registry, "modelnet40", data_root)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (8843, 1000, 2468)
    assert splits.num_classes == 40 and splits.train.x.shape[1:] == (1024, 3)
    train_counts = np.bincount(np.concatenate([splits.train.y.numpy(), splits.val.y.numpy()]), minlength=40)
    assert tuple(train_counts) == cls.train_counts
    assert np.bincount(splits.test.y.numpy(), minlength=40).min() >= 20


def test_hyperinr_on_point_clouds_records_chamfer_and_figures(tmp_path, dirs, cli):
    """The same HyperINR adapter runs on UDFs of shapes; report --figures draws its artefacts."""
    _, results = dirs
    data_args = tiny_shapenet10(cli, tmp_path / "src")
    code, out, err = cli("run", *data_args, "--profile", "smoke", "--quiet")
    assert code == 0, err
    (path,) = (results / "runs").glob("*.json")
    rec = json.loads(path.read_text())
    assert rec["status"] == "ok" and set(rec["heads"]) == {"z", "w"}
    assert rec["metrics"]["chamfer_test"] > 0 and 0 < rec["metrics"]["udf_l1_test"] < 1
    assert "test Chamfer" in out and f"figure: {results / 'figures' / rec['run_id']}-shapes.png" in err
    for png in (results / "figures").glob("*.png"):
        png.unlink()
    code, _, err = cli("report", "--figures")
    assert code == 0
    pngs = sorted(p.name for p in (results / "figures").glob("*.png"))
    assert pngs == [f"{rec['run_id']}-{name}.png" for name in ("shapes", "w-embeddings", "z-embeddings")]
    assert all((results / "figures" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_encoder_variant_is_skipped_on_shapes_with_the_reason(tmp_path, dirs, cli):
    _, results = dirs
    write_class_folders(tmp_path / "src", POINTDA10_CLASSES, train=2, test=1)
    assert cli("prepare", "shapenet10", "--from", str(tmp_path / "src"), "--data-param", "points=32")[0] == 0
    code, _, err = cli("run", "--dataset", "shapenet10", "--profile", "smoke", "--param", "encoder=true",
                       "--data-param", "points=32", "--data-param", "udf_per_level=4")
    assert code == 0 and "SKIPPED (the encoder variant is a CNN over images" in err
    (path,) = (results / "runs").glob("*.json")
    assert json.loads(path.read_text())["status"] == "skipped"


def test_every_shipped_method_runs_on_point_clouds(tmp_path, dirs, cli, registry):
    """Each method's smoke profile on a tiny ShapeNet10 gives an `ok` record and a row of the
    table: zoo methods fit UDF zoos (3D SIRENs), meta-learners fit UDFs themselves."""
    _, results = dirs
    data_args = tiny_shapenet10(cli, tmp_path / "src")
    methods = sorted(name for name, cls in registry.methods.items()  # hyperinr: the test above
                     if name != "hyperinr" and "pointcloud" in cls.modalities)
    args = [arg for name in methods for arg in ("--method", name)]
    code, out, err = cli("run", *args, *data_args, "--profile", "smoke", "--quiet")
    assert code == 0, err
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert sorted(r["method"] for r in records) == methods
    assert all(r["status"] == "ok" for r in records), [(r["method"], r.get("error")) for r in records]
    for name in methods:
        assert f"| {name} " in out
