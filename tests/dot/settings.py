# Django settings of the second test provider: Django OAuth Toolkit as a deployment would set it
# up for a public native client. server.py fills in what is known only at start (the issuer with
# its port, the database file, the RSA key, the access-token lifetime) through the environment.
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ISSUER = os.environ["LATCHKEY_DOT_ISSUER"]  # e.g. http://127.0.0.1:41234 (no trailing slash)

SECRET_KEY = os.environ["LATCHKEY_DOT_SECRET"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]

MIDDLEWARE = [
    "dot_test.CountRequests",  # first: counts every request, as tests/idp does
    "dot_test.WatchDevicePkce",  # notes PKCE on the device grant, changing no answer
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["LATCHKEY_DOT_DB"],
        # Concurrent requests (eight racing refreshes) wait for sqlite's write lock.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# A fresh database per start: tables made straight from the models (`migrate --run-syncdb`) take
# 0.3 s where replaying every migration takes 4 s.
MIGRATION_MODULES = {app: None for app in ["auth", "contenttypes", "sessions", "oauth2_provider"]}

# Only a test's password: hashing it the default way costs a second of CPU per login.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},
}

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OIDC_RSA_PRIVATE_KEY": os.environ["LATCHKEY_DOT_RSA_KEY"],
    "OIDC_USERINFO_ENDPOINT": ISSUER + "/userinfo/",
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_VALIDATOR_CLASS": "dot_test.Validator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Your name",
        "email": "Your email address",
        "offline_access": "Stay signed in",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("LATCHKEY_DOT_ACCESS_TTL", "60")),
    "ROTATE_REFRESH_TOKEN": True,
    "OAUTH_DEVICE_VERIFICATION_URI": ISSUER + "/device/",
    "OAUTH_DEVICE_VERIFICATION_URI_COMPLETE": ISSUER + "/device/?user_code={user_code}",
    # RFC 9700 behaviour, as a new deployment is told to turn on: S256 only, no implicit or
    # password grant, no access token in a query string, and RFC 9207 `iss` in authorization
    # responses (advertised as authorization_response_iss_parameter_supported). Django OAuth
    # Toolkit still leaves `iss` out of an error response (a cancelled consent): the tests keep
    # that real behaviour.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
}
STATIC_URL = "/static/"  # the templates link a stylesheet; no browser ever loads it
