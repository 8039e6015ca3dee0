"""django-gravatar2 (PyPI), the Gravatar helper Mailman 3's web interface uses, pointed at a server.

    python django-gravatar2.py --base-url=URL --size=N --default=D IDENTITY...

Run it with the Python of an environment where django-gravatar2 and Django are installed. Its
GRAVATAR_URL and GRAVATAR_SECURE_URL settings (which a site sets to use its own avatar server)
become URL, GRAVATAR_DEFAULT_IMAGE becomes D; each identity's URL from
`django_gravatar.helpers.get_gravatar_url` is printed on a line of its own. No database is
touched.
"""

import sys

import django
from django.conf import settings


def main(argv):
    options = {}
    identities = []
    for word in argv:
        for name in ("--base-url=", "--size=", "--default="):
            if word.startswith(name):
                options[name[2:-1]] = word[len(name):]
                break
        else:
            identities.append(word)
    if "base-url" not in options or not identities:
        sys.exit("usage: django-gravatar2.py --base-url=URL [--size=N] [--default=D] IDENTITY...")
    settings.configure(
        GRAVATAR_URL=options["base-url"],
        GRAVATAR_SECURE_URL=options["base-url"],
        GRAVATAR_DEFAULT_IMAGE=options.get("default", "mm"),
    )
    django.setup()
    from django_gravatar.helpers import get_gravatar_url

    size = int(options.get("size", "80"))
    for identity in identities:
        print(get_gravatar_url(identity, size=size), flush=True)


main(sys.argv[1:])
