"""Fashion-MNIST (Xiao et al. 2017): 28x28 clothing images, 55,000 / 5,000 / 10,000."""
from pathlib import Path

from wsbench.api import IdxImageDataset


class FashionMNIST(IdxImageDataset):
    name = "fashion-mnist"
    description = "Fashion-MNIST, IDX files; 55k train / 5k val (fixed draw) / 10k test"
    prepare_hint = " (on Debian: `apt-get install dataset-fashion-mnist`, DIR=/usr/share/datasets/fashion-mnist)"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    md5 = {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    split_file = Path(__file__).parent / "splits" / "fashion_mnist.json"
