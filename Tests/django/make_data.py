"""Fills the throwaway project the way a real django-rest-durin 1.1 site would be, and
logs in through durin's own LoginView. Prints what the test compares against, as JSON.

    python make_data.py initial   # users, clients, logins, one session listing
    python make_data.py later     # what happens in Django between two imports
"""
import json
import os
import sys
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from durin.models import AuthToken, Client  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


def login(username, password, client):
    """POST login/ through durin's LoginView, exactly as an API client would."""
    response = APIClient().post(
        "/api/auth/login/", {"username": username, "password": password, "client": client}, format="json"
    )
    assert response.status_code == 200, (response.status_code, response.content)
    body = response.json()
    return {"user": username, "client": client, "token": body["token"], "expiry": body["expiry"]}


def initial():
    call_command("migrate", verbosity=0)
    web = Client.objects.create(name="web", token_ttl=timedelta(days=1))
    Client.objects.create(name="mobile", token_ttl=timedelta(days=2, hours=3, minutes=4, seconds=5), throttle_rate="100/m")
    Client.objects.create(name="smart tv", token_ttl=timedelta(hours=1))  # a name durin-for-nginx refuses

    User.objects.create_user("alice", "alice@example.com", "alice-pw", first_name="Alice", last_name="Liddell")
    bob = User.objects.create_user("bob", "bob@example.com", "bob-pw")
    carol = User.objects.create_user("carol", "carol@example.com", "carol-pw")
    dave = User.objects.create_user("dave", "dave@example.com")
    eve = User.objects.create_user("eve smith", "eve@example.com", "eve-pw")  # the ORM skips username validation
    frank = User.objects.create_user("frank", "frank@example.com", "frank-pw")

    logins = [login("alice", "alice-pw", "web"), login("alice", "alice-pw", "mobile"), login("bob", "bob-pw", "web"),
              login("alice", "alice-pw", "smart tv")]
    # bob's hash from an older Django: fewer iterations than this project's hasher.
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=bob.pk).update(password=hasher.encode("bob-pw", hasher.salt(), iterations=100000))
    # A hasher this service cannot check (the hash is well-formed; bcrypt need not be installed).
    User.objects.filter(pk=dave.pk).update(
        password="bcrypt_sha256$$2b$12$Mh7Dyx3RFQ7mOrHPp1KjCeZnmJ5QUQF9lTOm4cWYdGMpOp6HSmZ0e")
    # Tokens login cannot make: of an inactive user, of a user with a bad name, an expired one.
    carol_token = AuthToken.objects.create(carol, web)
    User.objects.filter(pk=carol.pk).update(is_active=False)
    eve_token = AuthToken.objects.create(eve, web)
    AuthToken.objects.create(frank, web, delta_ttl=timedelta(hours=-1))

    sessions = APIClient()
    sessions.credentials(HTTP_AUTHORIZATION="Token " + logins[0]["token"])
    listed = sessions.get("/api/auth/sessions/")
    assert listed.status_code == 200, listed.content
    print(json.dumps({
        "logins": logins,
        "tokens": {"carol/web": carol_token.token, "eve smith/web": eve_token.token},
        "sessions": listed.json(),
    }))


def later():
    """Between two imports: alice logs out of mobile, bob logs in on mobile."""
    mobile = AuthToken.objects.get(user__username="alice", client__name="mobile")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + mobile.token)
    assert client.post("/api/auth/logout/").status_code == 204
    print(json.dumps({"logged_out": mobile.token, "logins": [login("bob", "bob-pw", "mobile")]}))


if __name__ == "__main__":
    {"initial": initial, "later": later}[sys.argv[1]]()
