"""Triage: cases, routing rules, assignment, SLAs and replies through approvals. Above the
domains, beside `playbooks` (which it never imports): it may import `listening`,
`approvals`, `warroom` and `networks`."""
