"""The outside networks, one module per network (x.py, mastodon.py, bluesky.py, reddit.py): its client
library set up from the environment and the account (credentials, the account's server,
and the base URL of a loopback fake in tests and the demo), its failures translated into
the errors of networks/errors.py, and the publisher interface of networks/base.py
(publish, delete, lookup, post_url, LIMITS). networks/registry.py maps an account's network
kind to its module. Listening's adapters fetch through these modules and approvals
publishes through them, so what a network's API does lives once.

Bottom layer, beside `warroom`: it imports none of the project's packages (only Django's
settings and the networks' client libraries)."""
