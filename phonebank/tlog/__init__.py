"""The transparency log.

`merkle` (RFC 6962 / RFC 9162 hashing, proofs and their verification) and `note` (C2SP
signed notes and checkpoints) are pure: they import no Django, so they are tested with plain
inputs and published test vectors. The Django app parts build on them.
"""
