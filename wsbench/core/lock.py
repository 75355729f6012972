"""One owner per run: a lock file beside the run records, kept fresh by a heartbeat.

A process id alone cannot tell a live owner on another SLURM host from a dead one, so
the owner touches its lock every HEARTBEAT_S seconds, and a lock untouched for STALE_S
seconds belongs to a dead process and may be taken over. The lock is created with
O_CREAT | O_EXCL, which is atomic on local file systems and on NFS (v3 and later);
ages compare the file's modification time with this host's clock, so the hosts of a
cluster must keep their clocks in step (NTP), as SLURM itself requires.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

HEARTBEAT_S = 10.0
STALE_S = 60.0


class RunLock:
    def __init__(self, path: Path, stale_s: float = STALE_S, heartbeat_s: float = HEARTBEAT_S):
        self.path, self.stale_s, self.heartbeat_s = Path(path), stale_s, heartbeat_s
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def age(self) -> float | None:
        """Seconds since the owner's last heartbeat; None when nobody holds the lock."""
        try:
            return time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def held_by_other(self) -> bool:
        age = self.age()
        return age is not None and age < self.stale_s and self.owner().get("token") != self.token

    def owner(self) -> dict:
        """Who holds the lock: host, pid, since (empty while it is being written or gone)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def describe_owner(self) -> str:
        owner = self.owner()
        return f"process {owner.get('pid', '?')} on {owner.get('host', '?')} since {owner.get('since', '?')}"

    def acquire(self) -> bool:
        """Take the lock, or take over a stale one; False while a live owner holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                age = self.age()
                if age is not None and age < self.stale_s:
                    return False
                self._remove_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                           "since": time.strftime("%Y-%m-%dT%H:%M:%S")}, f)
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()
            return True
        return False

    def _remove_stale(self) -> None:
        """Move a stale lock aside (one contender's rename wins) and delete it; a lock that
        turns out to have been refreshed meanwhile is put back."""
        aside = self.path.with_name(f"{self.path.name}.{self.token}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        if time.time() - aside.stat().st_mtime < self.stale_s:  # a live owner's lock: restore it
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self.owner().get("token") == self.token:
            self.path.unlink(missing_ok=True)
