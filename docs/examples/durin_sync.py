"""Keeps durin's users in step with Django's, through durin's users/ (docs/api.md).

A password changed, an account closed or a user deleted on the Django side reaches
durin at once, without another `durinctl import`. Add this module to an app that is in
INSTALLED_APPS and import it from the app's AppConfig.ready(), with two settings:

    DURIN_USERS_URL = "https://example.com/api/auth/users/"
    DURIN_ISSUER_KEY = "..."   # durinctl issuer add django --may users

Django's own password hash goes over as it is (`password_hash`): durin checks Django's
pbkdf2_sha256 hashes, so the password the user chose here works there. A staff user is
out of reach of a key without the `staff` right (durin answers 403): give the key
`--may users,staff` to keep staff users in step too. Only the standard library is used.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

PROFILE_FIELDS = ("email", "first_name", "last_name")


def _call(method, username="", body=None):
    """One users/ request; returns the status (404 is an answer, not an error)."""
    url = settings.DURIN_USERS_URL + (urllib.parse.quote(username, safe="") + "/" if username else "")
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Issuer {settings.DURIN_ISSUER_KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return 404
        raise


@receiver(post_save, sender=get_user_model())
def user_saved(sender, instance, created, **kwargs):
    body = {"is_active": instance.is_active}
    body.update({field: getattr(instance, field, "") or "" for field in PROFILE_FIELDS})
    # Django keeps the new password's text in _password until the save is over: the
    # hash goes over when it changed (and for a new user), not at every save.
    if created or getattr(instance, "_password", None) is not None:
        body["password_hash"] = instance.password
    if created or _call("PATCH", instance.username, body) == 404:
        body.setdefault("password_hash", instance.password)
        _call("POST", body={"username": instance.username, **body})


@receiver(post_delete, sender=get_user_model())
def user_deleted(sender, instance, **kwargs):
    _call("DELETE", instance.username)
