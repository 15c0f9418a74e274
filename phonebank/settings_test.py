"""Test settings: the real settings, on a throwaway PHONEBANK_HOME and plain HTTP."""

import os
import tempfile

os.environ.setdefault("PHONEBANK_HOME", tempfile.mkdtemp(prefix="phonebank-test-"))
os.environ.setdefault("PHONEBANK_HTTPS", "0")

from phonebank.settings import *  # noqa: F403
from phonebank.settings import PASSWORD_HASHERS, STATIC_ROOT, STORAGES

STATIC_ROOT.mkdir(exist_ok=True)
# Hashed static names need collectstatic, which tests do not run.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Argon2 stays first in production (see settings.py); tests trade it for speed.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
# Most tests sign staff in with force_login; the two-factor tests switch this on themselves.
PHONEBANK_REQUIRE_2FA = False
