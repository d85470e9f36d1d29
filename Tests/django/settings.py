"""A minimal django-rest-durin 1.1 project (DjangoImportTests builds it): sqlite beside this file, durin at /api/auth/."""
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.hashers import PBKDF2PasswordHasher

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "throwaway-test-project-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "durin",
]
MIDDLEWARE = []
ROOT_URLCONF = "urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


class TestPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's own pbkdf2_sha256, at a cost a test suite can afford."""

    iterations = 20000


PASSWORD_HASHERS = ["settings.TestPBKDF2PasswordHasher"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["durin.auth.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
REST_DURIN = {"DEFAULT_TOKEN_TTL": timedelta(days=1)}
