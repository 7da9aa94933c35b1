"""Playbooks: events, scenarios, variants cleared by legal, firing, drills and YAML.
Above the domains, beside `triage` (which it never imports): it may import `listening`,
`approvals`, `warroom` and `networks`."""
