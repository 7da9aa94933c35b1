"""Hooks: where a lower app's decision goes on in the layers above it (warroom/hooks.py).
Each has one receiver, refuses to run without it, and the room connects every one."""

import importlib
import pkgutil

import pytest
from django.core.exceptions import ImproperlyConfigured

from warroom.hooks import Hook

PACKAGES = ("warroom", "networks", "listening", "approvals", "triage", "playbooks", "wall", "room")


def doubled(*, value):
    return 2 * value


def tripled(*, value):
    return 3 * value


def test_a_hook_without_its_receiver_refuses_to_run():
    hook = Hook("tests.nowhere")
    with pytest.raises(ImproperlyConfigured, match="Nothing carries tests.nowhere on: is room in INSTALLED_APPS"):
        hook(value=1)


def test_a_hook_has_one_receiver():
    hook = Hook("tests.one")
    hook.connect(doubled)
    hook.connect(doubled)  # start-up running twice changes nothing
    with pytest.raises(ImproperlyConfigured, match="tests.one is already carried on by doubled"):
        hook.connect(tripled)
    assert hook(value=21) == 42


def test_every_hook_the_apps_declare_is_connected_at_start_up():
    hooks = {}
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            for value in vars(importlib.import_module(module.name)).values():
                if isinstance(value, Hook):
                    hooks[value.name] = value
    assert {"listening.batch_stored", "listening.alert_matched", "approvals.post_outcome",
            "approvals.text_touches"} <= set(hooks)
    assert [name for name, hook in sorted(hooks.items()) if hook.receiver is None] == []
