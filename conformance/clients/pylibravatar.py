"""pyLibravatar (PyPI) as a discovery client for the conformance suite's --client-cmd.

    avatar-conformance --group libravatar-discovery --client-cmd \
      'python pylibravatar.py {nameserver} {scheme} --size={size} --default={default} {identity} {again}'

Run it with the Python of an environment where pyLibravatar is installed: 2.x looks names up
with dnspython, 1.x with py3dns (which pyLibravatar 1.x does not declare: install it too).
Each identity given is looked up in this one process, with libravatar_url() as an application
calls it, and its URL printed on a line of its own. An identity with "://" in it is an OpenID.
Only the nameserver is set here, nothing of the library's own behaviour.
"""

import sys

import libravatar


def use_nameserver(address):
    """Points the library's resolver at address (IP:PORT) and nowhere else."""
    host, port = address.rsplit(":", 1)
    if hasattr(libravatar, "DNS"):
        # pyLibravatar 1.x calls DNS.DiscoverNameServers() (which reads /etc/resolv.conf)
        # before every lookup: make it name ours instead.
        def discover():
            libravatar.DNS.defaults["server"] = [host]
            libravatar.DNS.defaults["port"] = int(port)

        libravatar.DNS.DiscoverNameServers = discover
    else:
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = int(port)
        dns.resolver.default_resolver = resolver


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: pylibravatar.py NAMESERVER SCHEME [--size=N] [--default=D] IDENTITY...")
    nameserver, scheme, *rest = argv
    options = {}
    identities = []
    for word in rest:
        if word.startswith("--size="):
            options["size"] = word[len("--size="):]
        elif word.startswith("--default="):
            options["default"] = word[len("--default="):]
        else:
            identities.append(word)
    use_nameserver(nameserver)
    for identity in identities:
        kind = "openid" if "://" in identity else "email"
        url = libravatar.libravatar_url(https=scheme == "https", **{kind: identity}, **options)
        print(url, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
