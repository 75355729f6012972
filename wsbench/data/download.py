"""Downloads for `prepare`: a partial or corrupt file never takes the final name."""
from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from wsbench.core.errors import UserError


def download(url: str, dest: Path, md5: str | None) -> None:
    """Fetch url to dest and check its MD5 (None: none is published); a partial or wrong
    download is deleted."""
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as f:
            while block := response.read(1 << 20):
                f.write(block)
    except OSError as err:
        part.unlink(missing_ok=True)
        raise UserError(f"download of {url} failed: {err}") from None
    if md5 is not None and (got := hashlib.md5(part.read_bytes()).hexdigest()) != md5:
        part.unlink(missing_ok=True)
        raise UserError(f"{url}: MD5 {got} does not match the published {md5}")
    part.replace(dest)
