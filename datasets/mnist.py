"""MNIST (LeCun et al.): 28x28 handwritten digits, 55,000 / 5,000 / 10,000."""
from pathlib import Path

from wsbench.api import IdxImageDataset


class MNIST(IdxImageDataset):
    name = "mnist"
    description = "MNIST digits, IDX files; 55k train / 5k val (fixed draw) / 10k test"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/")
    md5 = {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    split_file = Path(__file__).parent / "splits" / "mnist.json"
