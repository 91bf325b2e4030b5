"""An echo Ente in Python: it serves its endpoint by answering each call
with the body it was given, and says so in its journal.

Built with componentize-py against ente's `provider` world, which imports
only `ente:core/journal`; CPython itself imports `wasi:filesystem` and
`wasi:sockets`, which `ente pack --grant Journal` denies inside the
component. So `open()` fails with an OSError here, as it should: its card
grants no files.
"""

from componentize_py_types import Err
from wit_world.imports import journal
from wit_world.exports import Handler as HandlerBase
from wit_world.exports import Lifecycle as LifecycleBase


class Lifecycle(LifecycleBase):
    def start(self) -> None:
        # stdout is in every Ente's baseline: it reaches the journal.
        print("echo-python starting")
        try:
            open("/etc/hostname").read()
            journal.log(journal.Level.ERROR, "read a file no card granted")
        except OSError as e:
            journal.log(journal.Level.INFO, f"no files here: {e.strerror}")
        journal.log(journal.Level.INFO, "echo-python ready")

    def stop(self) -> None:
        pass


class Handler(HandlerBase):
    def handle(self, from_: str, target, body: bytes) -> bytes:
        if body == b"fail":
            raise Err("asked to fail")
        return body
