"""Where an app's decision goes on in the apps above it, without importing them.

Apps import only the layers below them (see the README's Architecture). Some decisions
that start low have effects higher up: listening stores a batch, and triage, playbooks
and the Wall take it up in the same transaction; approvals publishes a reply, and triage
stamps the case's first response. The lower app declares the point once, as a `Hook`,
and calls it where the decision goes on; the orchestration layer (`room`) connects the
one function that carries it on, in `RoomConfig.ready()`, and that function, in
room/flows/, names every effect in order.

A hook has exactly one receiver and refuses to run without it, so an effect is never
skipped because nothing was connected."""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured


class Hook:
    """A named point in a lower app's decision; `hook(**arguments)` calls its receiver."""

    def __init__(self, name: str):
        self.name = name
        self.receiver: Callable | None = None

    def connect(self, receiver: Callable) -> None:
        if self.receiver is not None and self.receiver is not receiver:
            raise ImproperlyConfigured(f"{self.name} is already carried on by {self.receiver.__qualname__}.")
        self.receiver = receiver

    def __call__(self, **arguments):
        if self.receiver is None:
            raise ImproperlyConfigured(f"Nothing carries {self.name} on: is room in INSTALLED_APPS?")
        return self.receiver(**arguments)

    def __repr__(self) -> str:
        return f"<Hook {self.name}>"
