"""django-avatar (PyPI) as a Libravatar client, for the conformance suite and the server's tests.

    python django-avatar.py {nameserver} {scheme} --size={size} --default={default} {identity} {again}
    python django-avatar.py --gravatar-base-url=URL --size=N IDENTITY...

Run it with the Python of an environment where django-avatar and its dependencies are installed.
The first form asks LibRAvatarProvider, django-avatar's Libravatar discovery, for each identity
given, with only the nameserver set (dnspython's default resolver); the second asks
GravatarAvatarProvider with AVATAR_GRAVATAR_BASE_URL set to URL, as a site points it at its own
avatar server. Each URL is printed on a line of its own. {scheme} is read and not used: the
provider has no such setting (it picks https when the SRV port is 443). {default} becomes the
AVATAR_GRAVATAR_DEFAULT setting, the only way to give one. Django is configured with the apps
the providers need and nothing else; no database is touched.
"""

import sys

import django
from django.conf import settings

#: What forkserver.py imports before it forks, to spare each draw most of the 0.3 s Django and
#: dnspython take to import: modules that need no settings and hold no lookup's state.
PRELOAD = (
    "dns.resolver",
    "django.urls",
    "django.db.migrations",
    "django.utils.log",
    "django.template.defaultfilters",
    "django.template.defaulttags",
    "django.template.loader_tags",
    "django.views.debug",
    "django.views.generic.base",
    "django.middleware.csrf",
    "PIL.Image",
    "PIL.ImageOps",
)


class User:
    """What the providers read of a user: its email field."""

    def __init__(self, email):
        self.email = email


def use_nameserver(address):
    """Points dnspython's default resolver, which the provider uses, at address (IP:PORT)."""
    import dns.resolver

    host, port = address.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    dns.resolver.default_resolver = resolver


def main(argv):
    options = {}
    words = []
    for word in argv:
        for name in ("--size=", "--default=", "--gravatar-base-url="):
            if word.startswith(name):
                options[name[2:-1]] = word[len(name):]
                break
        else:
            words.append(word)
    base_url = options.get("gravatar-base-url")
    if base_url is None:
        if len(words) < 3:
            sys.exit("usage: django-avatar.py NAMESERVER SCHEME [--size=N] [--default=D] IDENTITY...")
        nameserver, _scheme, *identities = words
        use_nameserver(nameserver)
    else:
        identities = words
    extra = {"AVATAR_GRAVATAR_BASE_URL": base_url} if base_url else {}
    settings.configure(
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "avatar"],
        AVATAR_GRAVATAR_DEFAULT=options.get("default"),
        **extra,
    )
    django.setup()
    from avatar.providers import GravatarAvatarProvider, LibRAvatarProvider

    provider = GravatarAvatarProvider if base_url else LibRAvatarProvider
    size = int(options.get("size", "80"))
    for identity in identities:
        print(provider.get_avatar_url(User(identity), size), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
