"""ASGI entry point: HTTP through Django, its request bodies capped per route first
(warroom/bodylimit.py, under daphne from the moment the headers arrive), WebSockets through
Channels with the session user attached and the Origin checked as scheme, host and port
(warroom.origins)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warroom.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from warroom.bodylimit import BodyLimit, install_daphne_guard  # noqa: E402
from warroom.origins import SameOriginValidator  # noqa: E402
from warroom.routing import websocket_urlpatterns  # noqa: E402

install_daphne_guard()

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
