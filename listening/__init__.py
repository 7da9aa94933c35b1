"""Listening: sources, adapters, mentions, enrichment, alert rules, alerts and spikes.
Domain layer, beside `approvals` (which it never imports): it may import `warroom` and
`networks` only; what a stored batch or an alert means above it runs through its hooks
(see services.py), connected by `room`."""
