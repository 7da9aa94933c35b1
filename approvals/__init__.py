"""Approvals: posts and their state machine, legal's Yes/No, scheduling, the pause and
publishing exactly once. Domain layer, beside `listening` (which it never imports): it may
import `warroom` and `networks` only; the lint's crisis topics and a post's outcome
elsewhere run through its hooks (see services.py), connected by `room`."""
