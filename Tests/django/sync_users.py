"""Runs docs/examples/durin_sync.py (copied beside this file) against a live durin:
creates, changes and deletes Django users, and prints what it did, as JSON.

    python sync_users.py <users/ URL> <issuer key>
"""
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)

settings.DURIN_USERS_URL, settings.DURIN_ISSUER_KEY = sys.argv[1], sys.argv[2]
import durin_sync  # noqa: E402,F401  (connects the handlers)

signed_up = User.objects.create_user("sync.ann", email="ann@example.com", password="ann-first-pw")
User.objects.create_user("sync.bob", password="bob-pw")
signed_up.set_password("ann-second-pw")
signed_up.first_name = "Ann"
signed_up.save()
closed = User.objects.get(username="sync.bob")
closed.is_active = False
closed.save()
User.objects.create_user("sync.cid", password="cid-pw").delete()
print(json.dumps({"synced": ["sync.ann", "sync.bob", "sync.cid"]}))
