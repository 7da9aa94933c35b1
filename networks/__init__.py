"""The outside networks, one module per network (x.py now; Mastodon, Bluesky and Reddit
next): its client library set up from the environment (credentials, and the base URL of
a loopback fake in tests and the demo), its failures translated into the errors of
networks/errors.py, and its publish call. Listening's adapters fetch through these
modules and approvals publishes through them, so what a network's API does lives once.

Bottom layer, beside `warroom`: it imports none of the project's packages (only Django's
settings and the networks' client libraries)."""
