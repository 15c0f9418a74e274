"""A logging filter that keeps phone numbers and names out of every log line and traceback.

Our code never puts a number or a name into a log message or an exception text; this is
the second line, for Django's records and libraries' (settings.LOGGING puts it on every
handler):

- anything that looks like a phone number (7 or more digits, with the usual separators,
  optionally +) is replaced, in the message and the traceback alike;
- a traceback keeps its frames (file, line, code) and each exception's type, but not the
  exception's message, which may quote the data that failed (a library's "cannot parse
  '王某某'", a database's "Key (...)=(...) already exists"): a name cannot be recognised
  by its shape, so every message goes, except those of connection and lock errors
  (OperationalError and the like: "database is locked"), which are needed to run the
  service and quote no row.
"""

from __future__ import annotations

import logging
import re
import traceback

_NUMBER = re.compile(r"(?<![\w.:=])\(?\+?\d(?:[ \-().]{0,2}\d){6,}(?![\w.:])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
REDACTED = "[number removed]"
MESSAGE_REMOVED = "[message removed]"
# Exceptions whose message is kept: about connections and locks, never about a row.
_KEEP_MESSAGE = {"OperationalError", "InterfaceError", "TimeoutError", "ConnectionError"}


def _replace(match: re.Match) -> str:
    # Dates and times ("2026-11-25 10:00") look like digit runs too; they are not numbers.
    return match.group(0) if _DATE.search(match.group(0)) else REDACTED


def redact(text: str) -> str:
    return _NUMBER.sub(_replace, text)


def _headline(exc: BaseException) -> str:
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    if any(c.__name__ in _KEEP_MESSAGE for c in kind.__mro__):
        try:
            return f"{name}: {exc}"
        except Exception:  # a broken __str__ must not break logging
            return name
    return f"{name}: {MESSAGE_REMOVED}" if exc.args else name


def exception_text(exc: BaseException) -> str:
    """A traceback as Python prints it (chained exceptions included), without the messages."""
    parts: list[str] = []
    seen: set[int] = set()

    def one(e: BaseException) -> None:
        seen.add(id(e))
        if e.__cause__ is not None and id(e.__cause__) not in seen:
            one(e.__cause__)
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
            )
        elif (
            e.__context__ is not None
            and not e.__suppress_context__
            and id(e.__context__) not in seen
        ):
            one(e.__context__)
            parts.append(
                "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        if e.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(e.__traceback__))
        parts.append(_headline(e) + "\n")

    one(exc)
    return "".join(parts).rstrip("\n")


class RedactNumbers(logging.Filter):
    """Numbers out of messages and tracebacks; exception messages out of tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            exc = record.exc_info[1]
            text = (
                exception_text(exc)
                if exc is not None
                else logging.Formatter().formatException(record.exc_info)
            )
            record.exc_text = redact(text)
            record.exc_info = None  # the text above stands in for it
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
