"""How the crisis contact tree is reached: one class per channel, listed in
settings.CRISIS_CHANNELS. A channel sends one crisis notice to one contact and raises on
failure; room/flows/crisis.py claims each notice once before it calls `send`."""

import requests
from django.conf import settings
from django.core.mail import send_mail

from warroom import netguard

SLACK_TIMEOUT = 5


class EmailChannel:
    name = "email"

    def wanted(self, contact) -> bool:
        return bool(contact.email)

    def send(self, *, contact, subject: str, text: str) -> None:
        send_mail(subject=subject, message=text, from_email=None, recipient_list=[contact.email])


class SlackChannel:
    """A Slack incoming webhook (CRISIS_SLACK_WEBHOOK_URL, else SLACK_WEBHOOK_URL), only on
    the public internet (warroom/netguard.py)."""

    name = "slack"

    def url(self) -> str:
        return settings.CRISIS_SLACK_WEBHOOK_URL or settings.SLACK_WEBHOOK_URL

    def wanted(self, contact) -> bool:
        return contact.slack and bool(self.url())

    def send(self, *, contact, subject: str, text: str) -> None:
        url = netguard.check_url(self.url())
        response = requests.post(url, json={"text": f"{subject} (for {contact.name})\n{text}"}, timeout=SLACK_TIMEOUT,
                                 allow_redirects=False)
        response.raise_for_status()
