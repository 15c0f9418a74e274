"""Settings, read from the environment (SPEC section 3). A bad value stops start-up loudly."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from phonebank.lib.crypto import KeyError_, Keyring

BASE_DIR = Path(__file__).resolve().parent
env = environ.Env()


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 0 or 1, not {raw!r}")


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def _private_file(path: Path, make) -> str:
    """Read a generated secret from PHONEBANK_HOME, creating it (mode 0600) when absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    if path.stat().st_mode & 0o077:
        raise ImproperlyConfigured(f"{path} must be readable by its owner only (chmod 600)")
    return path.read_text().strip()


def _secret(name: str, generated: Path, make) -> tuple[str, str]:
    """(value, where it came from): NAME, then NAME_FILE, then a file generated in HOME."""
    if os.environ.get(name):
        return os.environ[name].strip(), name
    if os.environ.get(f"{name}_FILE"):
        path = Path(os.environ[f"{name}_FILE"])
        try:
            return path.read_text().strip(), str(path)
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from exc
    return _private_file(generated, make), str(generated)


def _log_key(origin: str) -> str:
    from phonebank.tlog.note import generate_signer

    try:
        return generate_signer(origin).skey
    except ValueError as exc:
        raise ImproperlyConfigured(f"PHONEBANK_LOG_ORIGIN {origin!r}: {exc}") from exc


PHONEBANK_HOME = Path(os.environ.get("PHONEBANK_HOME") or "var").resolve()
PHONEBANK_HOME.mkdir(parents=True, exist_ok=True, mode=0o700)

DEBUG = _bool("PHONEBANK_DEBUG", False)
# Production mode runs behind a TLS-terminating proxy. `phonebank demo` serves plain HTTP on
# loopback and sets PHONEBANK_HTTPS=0 for itself.
PHONEBANK_HTTPS = _bool("PHONEBANK_HTTPS", not DEBUG)
PHONEBANK_DEMO = _bool("PHONEBANK_DEMO", False)

SECRET_KEY, PHONEBANK_SECRET_KEY_SOURCE = _secret(
    "PHONEBANK_SECRET_KEY", PHONEBANK_HOME / "secret.key", lambda: secrets.token_urlsafe(50)
)
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("PHONEBANK_SECRET_KEY must be at least 32 characters")

_keyring_text, PHONEBANK_DATA_KEY_SOURCE = _secret(
    "PHONEBANK_DATA_KEY", PHONEBANK_HOME / "data-keys.json", lambda: Keyring.generate().dumps()
)
try:
    PHONEBANK_KEYRING = Keyring.loads(_keyring_text)
except KeyError_ as exc:
    raise ImproperlyConfigured(f"PHONEBANK_DATA_KEY ({PHONEBANK_DATA_KEY_SOURCE}): {exc}") from exc
del _keyring_text

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("PHONEBANK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]

PHONEBANK_CLAIM_RATE_PER_MIN = _int("PHONEBANK_CLAIM_RATE_PER_MIN", 30)
PHONEBANK_CLAIM_DAILY_CAP = _int("PHONEBANK_CLAIM_DAILY_CAP", 300)  # per caller per UTC day
# Requests per user per minute to GET /api/campaigns/{slug}/stats (0: no limit), per server
# process with the default local-memory cache (docs/api.md).
PHONEBANK_STATS_RATE_PER_MIN = _int("PHONEBANK_STATS_RATE_PER_MIN", 60)
# Behind the reverse proxy every request comes from the proxy's address, so sign-in
# throttling and the public form's per-address limits would treat all clients as one. With
# this on they use the last X-Forwarded-For entry, the address our proxy saw (docs/deploy.md):
# turn it on only where nothing but the proxy can reach the server.
PHONEBANK_TRUST_X_FORWARDED_FOR = _bool("PHONEBANK_TRUST_X_FORWARDED_FOR", False)
# TOTP two-factor sign-in for admins and coordinators (off by default only in the demo).
PHONEBANK_REQUIRE_2FA = _bool("PHONEBANK_REQUIRE_2FA", not PHONEBANK_DEMO)
PHONEBANK_SESSION_IDLE_MINUTES = _int("PHONEBANK_SESSION_IDLE_MINUTES", 30, minimum=1)
PHONEBANK_SESSION_MAX_HOURS = _int("PHONEBANK_SESSION_MAX_HOURS", 12, minimum=1)
PHONEBANK_LOG_BATCH_SECONDS = _int("PHONEBANK_LOG_BATCH_SECONDS", 3600, minimum=1)
# The log's name (the checkpoint origin and signing key name). Set it before the first
# checkpoint; it is part of every signature: e.g. registry.example.org/log
PHONEBANK_LOG_ORIGIN = os.environ.get("PHONEBANK_LOG_ORIGIN", "").strip()
PHONEBANK_LOG_KEY, PHONEBANK_LOG_KEY_SOURCE = _secret(
    "PHONEBANK_LOG_KEY",
    PHONEBANK_HOME / "log-signing.key",
    lambda: _log_key(PHONEBANK_LOG_ORIGIN or "localhost/phonebank-registry"),
)
PHONEBANK_UPLOAD_MAX_BYTES = _int("PHONEBANK_UPLOAD_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
# Parser processes beside the importing one. One is enough: the importing process, which
# reads the file and writes the database, is the bound (docs/benchmarks.md), and a second
# parser on two cores only takes CPU from it.
PHONEBANK_IMPORT_PROCESSES = _int("PHONEBANK_IMPORT_PROCESSES", 1, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "axes",
    "phonebank.accounts",
    "phonebank.audit",
    "phonebank.campaigns",
    "phonebank.contacts",
    "phonebank.calling",
    "phonebank.registry",
    "phonebank.tlog",
    "phonebank.dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /api/ requests leave here for API_MIDDLEWARE (phonebank/api/middleware.py says why).
    "phonebank.api.middleware.ApiStack",
    # Before WhiteNoise, which answers static files itself: they get the same headers.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "phonebank.accounts.middleware.SessionTimeoutMiddleware",
    "phonebank.accounts.middleware.SecondFactorMiddleware",
    "phonebank.accounts.middleware.PolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "phonebank.accounts.middleware.NoStoreForSignedInMiddleware",
    "phonebank.accounts.middleware.UserTimezoneMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# The JSON API's own stack, after SecurityMiddleware: bearer tokens, no cookies, so no
# sessions, CSRF, messages or throttling; the same language choice and security headers,
# with a Content-Security-Policy that allows nothing (answers are JSON).
API_MIDDLEWARE = [
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "phonebank.api.middleware.ApiContentSecurityPolicy",
    "phonebank.accounts.middleware.NoStoreForSignedInMiddleware",
]

ROOT_URLCONF = "phonebank.urls"
WSGI_APPLICATION = "phonebank.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    }
]

_sqlite = PHONEBANK_HOME / "phonebank.sqlite3"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{_sqlite}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN
        # so two writers queue instead of failing half-way with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, so that psycopg prepares a statement once it has run
    # PHONEBANK_PG_PREPARE_THRESHOLD times on a connection: the claim's and outcome's few
    # statements are then planned once per connection instead of on every request
    # (docs/benchmarks.md, "Claims"). 0 turns preparing off, for a transaction-pooling
    # PgBouncer older than 1.21.
    _prepare = _int("PHONEBANK_PG_PREPARE_THRESHOLD", 5)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=_prepare or None
    )
# Connections outlive a request (one per server thread). On SQLite this also spares each
# request opening the file, running init_command and re-reading the schema, and keeps the
# prepared statements of the claim path: 1-2 ms of CPU per request (docs/benchmarks.md).
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "phonebank.accounts.validators.MaximumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, as django-axes requires
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in throttling: lock a username from one address after 5 failures for 15 minutes.
# Locking by username and address together means nobody can lock everyone else out.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # sign-ins go to our audit log, without addresses
AXES_CLIENT_IP_CALLABLE = "phonebank.accounts.throttle.client_ip_hash"
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"

SESSION_COOKIE_AGE = PHONEBANK_SESSION_MAX_HOURS * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文"), ("zh-hant", "繁體中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Digits grouped by three with a comma in Chinese too, as in English and the charts.
FORMAT_MODULE_PATH = ["phonebank.formats"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_COOKIE_SECURE = PHONEBANK_HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True

STATIC_URL = "/static/"
STATIC_ROOT = PHONEBANK_HOME / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_TEMP_DIR = None

# Browser defences. Pages carry no inline script or style, so the policy needs no
# 'unsafe-inline'.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if PHONEBANK_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"no_numbers": {"()": "phonebank.lib.logredact.RedactNumbers"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_numbers"],
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # Django's defaults give "django" handlers of its own (a console while debugging,
        # error e-mails) and "django.server" another: none has our filter. Every record
        # goes through "console" instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        # Request errors carry the request (and so form data) in their record: keep the
        # message, never the payload.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
