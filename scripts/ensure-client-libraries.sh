#!/usr/bin/env bash
# Installs the real Libravatar client libraries the conformance suite is checked against, when
# missing. Idempotent. Everything lands in $AVATARS_CLIENTS (by default ~/.cache/avatars-clients)
# and is kept between runs, so a CI run installs it once.
# - pyLibravatar (PyPI), one virtual environment per version, every dependency pinned:
#   2.0.2 (the current release, dnspython), 2.0.0 (which keeps the SRV target's trailing dot) and
#   1.7 (py3dns, which turns an IDN target into Unicode and then refuses it).
# - django-avatar 9.0.0 (PyPI), the Django app, with Django 5.2 and the rest it needs, pinned:
#   its Libravatar and Gravatar providers build /avatar/HASH/?s=N URLs.
# - django-gravatar2 1.4.5 (PyPI), the Gravatar helper of Mailman 3's web interface, with Django.
# - Debian's Gravatar::URL (libgravatar-url-perl), Perl's.
# - the npm `libravatar` 3.0.0.
# - Debian's go-libravatar (golang-strk.kbt-projects-go-libravatar-dev, git 2016-11-11) and the
#   Go that builds it (golang-go), from apt; the test builds its adapter.
# conformance/tests/it/real_clients.rs runs the discovery cases against each Libravatar client,
# through the adapters in conformance/clients/, and asserts the verdicts; it points the Gravatar
# URL builders (django-avatar's, django-gravatar2, Gravatar::URL) at a server of ours.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"
. "$(dirname "$0")/lib/npm.sh"

clients=${AVATARS_CLIENTS:-$HOME/.cache/avatars-clients}
# Version directory, the module that shows it installed, then the pip requirements, every one
# spelt as pip freeze writes it (pyLibravatar 1.x needs py3dns without saying so).
PYTHON_CLIENTS=(
    "pylibravatar-2.0.2 libravatar pyLibravatar==2.0.2 dnspython==2.9.2"
    "pylibravatar-2.0.0 libravatar pyLibravatar==2.0.0 dnspython==2.9.2"
    "pylibravatar-1.7 libravatar pyLibravatar==1.7 py3dns==4.0.2"
    "django-avatar-9.0.0 avatar django-avatar==9.0.0 Django==5.2.20 asgiref==3.13.0 sqlparse==0.6.1 django-appconf==1.2.0 dnspython==2.9.2 pillow==13.0.0"
    "django-gravatar2-1.4.5 django_gravatar django-gravatar2==1.4.5 Django==5.2.20 asgiref==3.13.0 sqlparse==0.6.1"
)
NODE_LIBRAVATAR_VERSION=3.0.0

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d /usr/share/gocode/src/strk.kbt.io/projects/go/libravatar ] \
    || missing+=(golang-strk.kbt-projects-go-libravatar-dev)
perl -MGravatar::URL -e 1 2>/dev/null || missing+=(libgravatar-url-perl)
if [ ${#missing[@]} -gt 0 ]; then
    status=0
    apt_install ensure-client-libraries "${missing[@]}" || status=$?
    if [ "$status" != 0 ]; then
        echo "ensure-client-libraries: cannot install ${missing[*]} (status $status)" >&2
        exit 1
    fi
fi

for entry in "${PYTHON_CLIENTS[@]}"; do
    read -r name module requirements <<<"$entry"
    venv=$clients/$name
    if [ "$("$venv/bin/pip" freeze --disable-pip-version-check 2>/dev/null | sort | tr '\n' ' ')" \
        = "$(tr ' ' '\n' <<<"$requirements" | sort | tr '\n' ' ')" ]; then
        continue
    fi
    echo "ensure-client-libraries: installing $requirements in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the requirements are words
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps $requirements
    # A venv that cannot import its library is not kept (its pip freeze would pass next time).
    "$venv/bin/python" -c "import $module" || { rm -rf "$venv"; exit 1; }
done

npm_ensure ensure-client-libraries "$clients/node" libravatar "$NODE_LIBRAVATAR_VERSION"
