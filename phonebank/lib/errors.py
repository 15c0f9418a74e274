class DomainError(Exception):
    """A request the rules refuse. The message is translated, for the person who made it."""
