import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phonebank.settings")
application = get_wsgi_application()

import sys  # noqa: E402  EXPERIMENT, to be removed

if os.environ.get("PB_SWITCH"):
    sys.setswitchinterval(float(os.environ["PB_SWITCH"]))
