"""Numbers typed into forms: empty means "not given"; anything else must read as a number,
or the person is told which field and what it takes."""

import math

from .errors import InvalidInput


def optional_number(value, label: str, *, whole: bool = False) -> float | int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(value) if whole else float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{label} must be a whole number." if whole else f"{label} must be a number, e.g. -0.5.") from None
    if not whole and not math.isfinite(number):
        raise InvalidInput(f"{label} must be a number, e.g. -0.5.")
    return number
