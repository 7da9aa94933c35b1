"""Errors a person can act on. Views turn them into a message with the right status."""


class WarroomError(Exception):
    """Base class: the message is written for the person who caused it."""

    status = 400


class InvalidInput(WarroomError):
    status = 400


class Forbidden(WarroomError):
    status = 403


class Conflict(WarroomError):
    status = 409
