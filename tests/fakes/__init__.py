"""Loopback HTTP fakes of the outside world (X, RSS, webhooks): real servers on 127.0.0.1
speaking the real protocols, so the real client libraries and adapters run against them."""
