"""The embedded broker: kombu's filesystem transport, publishing atomically.

kombu's filesystem transport creates a message file and then writes it. A
consumer that lists the folder in between moves and reads an empty file, and
the JSON decode error is fatal to a Celery worker ("Unrecoverable error"): the
whole worker stopped, and ``pressroom serve`` with it. The fault tests hit it
under load (a retry published by a pool process while its own worker polled
the queue folder). Here a message is written under a name the consumer skips
(``<time>_<uuid>.<queue>.part``) and renamed into place, which is atomic on one
filesystem, so a consumer sees a whole message or none. A name starts with
the time in nanoseconds, zero-padded: kombu takes the first name in sorted
order, and its own names (unpadded milliseconds) put ``100000_`` before
``99999_`` and two messages of one millisecond in random order.

A worker on this transport runs Celery's blocking loop (``synloop``). Celery
5.6 performs the acknowledgements that the pool queues only between two
``drain_events`` calls (5.7 acknowledges at once), and the base transport
spends the whole time-out (2 s) of a call polling while the prefetch window
is full: a worker of two processes took two messages per two seconds,
however short the tasks (the webhook tests found the 2-second beat tasks a
minute behind). Here a call returns after one polling interval, so finished
tasks are acknowledged and the next messages taken at once.

Selected by ``broker_transport`` in pressroom.tasks.celery_app when the
broker URL is ``filesystem://``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

#: the transport's import path, for Celery's ``broker_transport``
TRANSPORT = "pressroom.tasks.fsbroker:Transport"


class Channel(filesystem.Channel):
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:
        """Put a message on ``queue``: written aside, then renamed into place."""
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # no ".<queue>.msg" in its name: kombu's _get skips it
        partial = final.removesuffix(".msg") + ".part"
        try:
            with open(partial, "wb") as fh:
                fh.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:
        """Wait for a message at most one polling interval, so that the worker's
        loop acknowledges finished tasks before the prefetch window blocks it."""
        if timeout is not None:
            timeout = min(timeout, self.polling_interval or timeout)
        return super().drain_events(connection, timeout=timeout)
