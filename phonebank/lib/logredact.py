"""A logging filter that keeps phone numbers out of every log line and traceback.

Our code never puts a number or a name into a log message or an exception text; this is
the second line: anything that looks like a phone number (7 or more digits, with the usual
separators, optionally +) is replaced before a handler sees the record, in the message and
in the formatted traceback alike. It sits on the handlers in settings.LOGGING, so records
from Django and libraries pass it too.
"""

from __future__ import annotations

import logging
import re

_NUMBER = re.compile(r"(?<![\w.:=])\(?\+?\d(?:[ \-().]{0,2}\d){6,}(?![\w.:])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
REDACTED = "[number removed]"


def _replace(match: re.Match) -> str:
    # Dates and times ("2026-11-25 10:00") look like digit runs too; they are not numbers.
    return match.group(0) if _DATE.search(match.group(0)) else REDACTED


def redact(text: str) -> str:
    return _NUMBER.sub(_replace, text)


class RedactNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None  # the text above stands in for it
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
