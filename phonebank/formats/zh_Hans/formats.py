# Only what differs from Django's module for this language (phonebank/formats/__init__.py).
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
