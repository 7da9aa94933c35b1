"""A room socket lives only as long as its user's right to read: the one place that says
when a user's sockets must end, what a socket re-checks for itself, and how many sockets
one user may hold.

Sign-out, deactivation, a password change, deleting the user, and any change to a user's
groups send `user.access` to the user's own group after commit, and every socket of that
user closes (see warroom.consumers). These are signal receivers rather than service calls
on purpose: the Django admin and `manage.py shell` change users and groups without going
through our services, and those changes must end sockets too. Pub/sub may drop the
message, so each socket also re-checks its session and roles on its periodic sync
(`socket_access`), the same test its connect passed.

The per-user bound counts sockets across every web process: a Redis sorted set per user
whose members are channel names scored by expiry, refreshed by each socket's sync, so the
sockets of a process that died stop counting after `_ttl()` seconds."""

import hashlib
import time
from collections.abc import Iterable
from importlib import import_module

import redis
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
    user_logged_out,
)
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_delete
from django.utils.crypto import constant_time_compare

from . import live, roles, twofactor

ACCESS = "user.access"  # the channel-layer message type a socket answers by closing


def session_tag(session_key: str | None) -> str:
    """What the close message names a signed-out session by: its key stays out of Redis."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else ""


def sockets_close(*, user_ids: Iterable[int], signed_out_session: str | None = None) -> None:
    """After commit, every socket of these users closes. The sockets of `signed_out_session`
    close as signed out (their page stops); the others as changed (their page reconnects,
    and its connect decides what the user may still read)."""
    groups = [live.user_group(user_id) for user_id in user_ids]
    if groups:
        live.control(groups=groups, message={"type": ACCESS, "signed_out": session_tag(signed_out_session)})


def socket_access(*, session_key: str | None) -> frozenset[str] | None:
    """The roles the session's user holds now, or None when the session no longer signs
    anyone in (signed out, expired, deleted, password changed, user deactivated or gone).
    The same test channels.auth.get_user makes when a socket connects, without its side
    effect (it flushes a session whose hash is stale): a periodic check only reads."""
    if not session_key:
        return None
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    try:
        user_id = get_user_model()._meta.pk.to_python(data[SESSION_KEY])
        backend_path = data[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)
    if user is None:
        return None
    session_hash = data.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    if not twofactor.session_passes(user, data):  # signed in halfway: the second factor is still to come
        return None
    return roles.roles_of(user)


# --- What ends a user's sockets --------------------------------------------------------

def _signed_out(sender, request, user, **kwargs) -> None:
    if user is not None and user.pk is not None:
        session = getattr(request, "session", None)
        sockets_close(user_ids=[user.pk], signed_out_session=getattr(session, "session_key", None))


def _access_state(user) -> tuple:
    # From __dict__: a deferred field must not cost a query for every user loaded.
    return user.__dict__.get("is_active"), user.__dict__.get("password")


def _user_loaded(sender, instance, **kwargs) -> None:
    instance._warroom_access = _access_state(instance)


def _user_saved(sender, instance, created, **kwargs) -> None:
    before, now = getattr(instance, "_warroom_access", None), _access_state(instance)
    instance._warroom_access = now
    if not created and before != now:  # deactivated, reactivated, or a new password
        sockets_close(user_ids=[instance.pk])


def _user_deleted(sender, instance, **kwargs) -> None:
    sockets_close(user_ids=[instance.pk])


def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """user.groups.add/remove/set/clear, and group.user_set.* from the group's side."""
    if reverse and action == "pre_clear":  # post_clear does not say whose groups changed
        instance._warroom_cleared = list(instance.user_set.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:
        user_ids = instance.__dict__.pop("_warroom_cleared", []) if action == "post_clear" else pk_set
    else:
        user_ids = [instance.pk] if pk_set or action == "post_clear" else []
    sockets_close(user_ids=user_ids or [])


def _group_deleted(sender, instance, **kwargs) -> None:
    # Deleting a group removes its members' rows without an m2m signal.
    sockets_close(user_ids=list(instance.user_set.values_list("pk", flat=True)))


def connect_signals() -> None:
    """Called once, from warroom.apps.WarroomConfig.ready()."""
    user_model = get_user_model()
    user_logged_out.connect(_signed_out, dispatch_uid="warroom.sessions.signed_out")
    post_init.connect(_user_loaded, sender=user_model, dispatch_uid="warroom.sessions.user_loaded")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="warroom.sessions.user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="warroom.sessions.user_deleted")
    m2m_changed.connect(_groups_changed, sender=user_model.groups.through, dispatch_uid="warroom.sessions.groups")
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="warroom.sessions.group_deleted")


# --- How many sockets a user holds, across processes -----------------------------------

# Drop expired members, then add this one only while the user is under the bound.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(ARGV[2]) * 1000))
return 1
"""
_client: redis.Redis | None = None
_claim_script = None


def _redis() -> redis.Redis:
    global _client, _claim_script
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
        _claim_script = _client.register_script(_CLAIM)
    return _client


def _sockets_key(user_id: int) -> str:
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "warroom")
    return f"{prefix}:sockets:user:{user_id}"


def _ttl() -> float:
    """A socket refreshes its entry on every sync; three missed syncs and it stops counting."""
    return max(30.0, 3 * settings.LIVE_SYNC_SECONDS)


def socket_claim(*, user_id: int, channel: str) -> bool:
    """Count this socket against the user's bound; False when they already hold
    LIVE_SOCKETS_PER_USER open sockets."""
    now = time.time()
    _redis()
    return bool(_claim_script(keys=[_sockets_key(user_id)],
                              args=[now, now + _ttl(), channel, settings.LIVE_SOCKETS_PER_USER]))


def socket_refresh(*, user_id: int, channel: str) -> None:
    expires = time.time() + _ttl()
    pipe = _redis().pipeline()
    pipe.zadd(_sockets_key(user_id), {channel: expires}, xx=True)
    pipe.expireat(_sockets_key(user_id), int(expires) + 1)
    pipe.execute()


def socket_release(*, user_id: int, channel: str) -> None:
    _redis().zrem(_sockets_key(user_id), channel)


def sockets_held(*, user_id: int) -> int:
    return _redis().zcount(_sockets_key(user_id), time.time(), "+inf")
