"""The embedded broker: kombu's filesystem transport, with atomic writes.

kombu's transport creates the message file under its final name and then
writes it. A worker polling the folder can move and read that file between
the two steps, find it empty, and die on the JSON error ("Unrecoverable
error: JSONDecodeError"), which stops the whole worker. Here a message is
written under a temporary name that the reader ignores (it only takes
``<time>_<uuid>.<queue>.msg``) and renamed into place, which is atomic on one
filesystem: a reader sees a whole message or none.

``pressroom.tasks.celery_app`` registers this class for ``filesystem://``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".part-{uuid.uuid4().hex}")
        try:
            with open(partial, "wb") as out:
                out.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
