"""TemporaryFileManager: a per-task scratch folder that is always removed."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType


class TemporaryFileManager:
    """``with TemporaryFileManager(root, prefix) as scratch: scratch.path(...)``."""

    def __init__(self, root: Path, prefix: str = "task-") -> None:
        self._root = root
        self._prefix = prefix
        self.dir: Path | None = None

    def __enter__(self) -> TemporaryFileManager:
        self._root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=self._prefix, dir=self._root))
        return self

    def path(self, name: str) -> Path:
        """A path inside the scratch folder; ``name`` must be a plain file name."""
        assert self.dir is not None, "use TemporaryFileManager as a context manager"
        if Path(name).name != name or name in {"", ".", ".."}:
            raise ValueError(f"not a plain file name: {name!r}")
        return self.dir / name

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
