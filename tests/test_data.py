import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, discover_all

from wsbench.core.errors import UserError
from wsbench.data.idx import IDX_FILES, read_idx
from wsbench.data.splits import indices_checksum, read_split, write_split

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_fake_mnist(folder: Path, gz: bool = True, seed: int = 0) -> None:
    """The four IDX files with MNIST's shapes and random content."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, shape in IDX_FILES.items():
        arr = rng.integers(0, 10 if len(shape) == 1 else 256, size=shape, dtype=np.uint8)
        data = idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (folder / stem).write_bytes(data)


def test_read_idx_plain_and_gzip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    assert np.array_equal(read_idx(tmp_path / "a"), arr)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), arr)


def test_truncated_and_corrupt_idx_are_rejected_by_name(tmp_path):
    arr = np.zeros((10, 28, 28), np.uint8)
    good = idx_bytes(arr)
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(UserError, match=r"short.*truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "short.gz").write_bytes(gzip.compress(good)[:-20])
    with pytest.raises(UserError, match=r"short\.gz.*truncated"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(UserError, match=r"magic.*bad magic"):
        read_idx(tmp_path / "magic")
    (tmp_path / "float").write_bytes(good[:2] + b"\x0d" + good[3:])
    with pytest.raises(UserError, match=r"float.*not unsigned byte"):
        read_idx(tmp_path / "float")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(UserError, match=r"empty: empty file, expected an IDX array$"):
        read_idx(tmp_path / "empty")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UserError, match=r"folder: cannot read it \(Is a directory\)$"):
        read_idx(tmp_path / "folder")


@pytest.mark.parametrize("gz", [True, False])
def test_prepare_and_load_mnist_layout(tmp_path, dirs, cli, gz):
    data_root, _ = dirs
    write_fake_mnist(tmp_path / "src", gz=gz)
    code, out, err = cli("prepare", "mnist", "--from", str(tmp_path / "src"))
    assert code == 0, err
    splits = discover_all().dataset("mnist")().load(data_root, {})
    assert (len(splits.train), len(splits.val), len(splits.test)) == (55000, 5000, 10000)
    assert splits.train.x.shape[1:] == (28, 28, 1) and float(splits.train.x.max()) <= 1.0
    raw = read_idx(tmp_path / "src" / ("t10k-labels-idx1-ubyte" + (".gz" if gz else "")))
    assert np.array_equal(splits.test.y.numpy(), raw)
    assert set(splits.checksums) == {"data.npz", "split"}


def test_corrupt_source_leaves_nothing_half_prepared(tmp_path, dirs, cli):
    data_root, _ = dirs
    write_fake_mnist(tmp_path / "src")
    bad = tmp_path / "src" / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    code, _, err = cli("prepare", "mnist", "--from", str(tmp_path / "src"))
    assert code == 2 and "t10k-images-idx3-ubyte.gz" in err
    assert not data_root.exists() or list(data_root.iterdir()) == []


def test_failed_reprepare_keeps_the_previous_good_data(tmp_path, dirs, cli):
    data_root, _ = dirs
    write_fake_mnist(tmp_path / "src")
    assert cli("prepare", "mnist", "--from", str(tmp_path / "src"))[0] == 0
    before = (data_root / "mnist" / "data.npz").read_bytes()
    (tmp_path / "src" / "train-labels-idx1-ubyte.gz").unlink()
    code, _, err = cli("prepare", "mnist", "--from", str(tmp_path / "src"))
    assert code == 2 and "missing train-labels-idx1-ubyte" in err
    assert (data_root / "mnist" / "data.npz").read_bytes() == before
    assert sorted(p.name for p in data_root.iterdir()) == ["mnist"]


def test_wrong_shape_is_rejected_by_name(tmp_path, dirs, cli):
    write_fake_mnist(tmp_path / "src")
    (tmp_path / "src" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(99, np.uint8))))
    code, _, err = cli("prepare", "mnist", "--from", str(tmp_path / "src"))
    assert code == 2 and "t10k-labels-idx1-ubyte.gz: shape (99,)" in err


def test_download_checks_md5(tmp_path, dirs, monkeypatch, registry):
    """Download through a file:// mirror: a right MD5 prepares, a wrong one is refused."""
    data_root, _ = dirs
    write_fake_mnist(tmp_path / "mirror")
    cls = registry.dataset("mnist")
    md5 = {stem: hashlib.md5((tmp_path / "mirror" / f"{stem}.gz").read_bytes()).hexdigest() for stem in IDX_FILES}
    monkeypatch.setattr(cls, "mirrors", (f"file://{tmp_path / 'mirror'}/",))
    monkeypatch.setattr(cls, "md5", md5)
    cls().prepare(data_root, None, {})
    assert (data_root / "mnist" / "data.npz").is_file()
    monkeypatch.setattr(cls, "md5", {**md5, "t10k-images-idx3-ubyte": "0" * 32})
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz.*does not match"):
        cls().prepare(data_root / "other", None, {})
    assert not (data_root / "other" / "mnist").exists()


def test_unprepared_data_says_how_to_prepare(dirs, cli):
    code, _, err = cli("run", "--method", "hyperinr", "--dataset", "fashion-mnist", "--profile", "smoke")
    assert code == 2
    assert "not prepared" in err and "wsbench prepare fashion-mnist --from DIR" in err
    assert "apt-get install dataset-fashion-mnist" in err


def test_stored_splits_are_what_their_stated_recipe_draws(registry):
    for name in ("digits", "mnist", "fashion-mnist"):
        cls = registry.dataset(name)
        stored, _ = read_split(cls.split_file)
        drawn = cls.make_split()
        assert set(stored) == set(drawn)
        for part in stored:
            assert np.array_equal(stored[part], np.sort(drawn[part]))


def test_digits_split_is_stratified_and_disjoint(registry):
    splits = registry.dataset("digits")().load(Path("/nonexistent"), {})
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1197, 300, 300)
    for part in (splits.val, splits.test):
        counts = np.bincount(part.y.numpy(), minlength=10)
        assert counts.min() >= 28 and counts.max() <= 32
    stored, _ = read_split(registry.dataset("digits").split_file)
    assert not set(stored["train"]) & set(stored["val"]) and not set(stored["val"]) & set(stored["test"])


def test_edited_split_file_is_refused(tmp_path):
    path = tmp_path / "s.json"
    write_split(path, {"val": np.array([3, 1, 2])}, "test")
    assert read_split(path)[0]["val"].tolist() == [1, 2, 3]
    path.write_text(path.read_text().replace("[1, 2, 3]", "[1, 2, 4]"))
    with pytest.raises(UserError, match="checksum mismatch"):
        read_split(path)


BAD_SPLITS = {  # indices (checksum recomputed, as an editor who knows the format would) -> the error
    "range": ({"val": [0, 70000]}, "part 'val' holds index 70000, but the data has 60000 samples (indices 0-59999)"),
    "negative": ({"val": [-1, 3]}, "part 'val' holds the negative index -1"),
    "repeated": ({"val": [3, 3]}, "part 'val' holds index 3 more than once"),
    "fraction": ({"val": [3.5, 4]}, "part 'val' holds 3.5, not a sample index"),
    "text": ({"val": ["a", 3]}, "part 'val' holds 'a', not a sample index"),
    "flag": ({"val": [False, 3]}, "part 'val' holds False, not a sample index"),
    "list": ([1, 2], "`indices` must map each part to a list of sample indices"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SPLITS))
def test_a_malformed_split_file_is_named_with_its_defect(tmp_path, kind):
    indices, says = BAD_SPLITS[kind]
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"how": "by hand", "sha256": indices_checksum(indices), "indices": indices}))
    with pytest.raises(UserError) as err:
        read_split(path, 60000)
    assert str(err.value) == f"split file {path}: {says}"


@pytest.mark.parametrize("text,says", [("[1, 2]", "expected a JSON object with `indices`"),
                                       ("{", "not JSON"), (None, "cannot read it (No such file or directory)")])
def test_an_unreadable_split_file_is_named(tmp_path, text, says):
    path = tmp_path / "split.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UserError, match=re.escape(f"split file {path}: {says}")):
        read_split(path)


@pytest.mark.parametrize("meta,says", [("{", "meta.json: unreadable"),
                                       ('{"dataset": "mnist"}', "meta.json: no sha256 of data.npz")])
def test_a_damaged_prepared_folder_says_to_prepare_again(tmp_path, registry, meta, says):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "meta.json").write_text(meta)
    (folder / "data.npz").write_bytes(b"")
    with pytest.raises(UserError, match=re.escape(says) + ".*run `wsbench prepare mnist` again$"):
        registry.dataset("mnist")().read_prepared(tmp_path)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is not beside this checkout")
def test_real_mnist_from_shared_folder(dirs, cli):
    data_root, _ = dirs
    assert cli("prepare", "mnist", "--from", str(SHARED_MNIST))[0] == 0
    splits = discover_all().dataset("mnist")().load(data_root, {})
    test_counts = np.bincount(splits.test.y.numpy(), minlength=10).tolist()
    assert test_counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
