"""Drives the admin API through a Python client generated from docs/admin-openapi.yaml.

Run by `cargo xtask openapi` as: python generated_client.py CLIENT_DIR BASE_URL TOKEN PICTURE,
where CLIENT_DIR holds what openapi-python-client generated (with
docs/openapi-python-client.yaml) and BASE_URL is a live admin
listener holding alice@example.org and bob@example.org. It uses the client as an application
would (its functions, models and errors, nothing written by hand for the wire) and stops at the
first answer that is not what the document promises.
"""

import io
import sys

client_dir, base_url, token, picture = sys.argv[1:5]
sys.path.insert(0, client_dir)

from avatars_admin_api_client import AuthenticatedClient, Client  # noqa: E402
from avatars_admin_api_client.api.avatars import (  # noqa: E402
    get_avatar,
    get_avatar_picture,
    list_avatars,
    remove_avatar,
    store_avatar,
)
from avatars_admin_api_client.api.monitoring import get_health, get_metrics  # noqa: E402
from avatars_admin_api_client.models import (  # noqa: E402
    Avatar,
    AvatarPage,
    Error,
    Health,
    Stored,
    StoredFormat,
)
from avatars_admin_api_client.types import File  # noqa: E402


def check(what, holds, got):
    if not holds:
        sys.exit(f"generated client: {what}: got {got!r}")
    print(f"generated client: {what}")


admin = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
with open(picture, "rb") as file:
    png = file.read()

health = get_health.sync(client=anonymous)
check("the health check answers ok", isinstance(health, Health) and health.status.value == "ok", health)
metrics = get_metrics.sync(client=anonymous)
# The client names no format, so it gets the Prometheus text format (OpenMetrics ends "# EOF").
check(
    "the metrics are in the Prometheus text format",
    isinstance(metrics, str) and "\n# TYPE avatars_index_entries gauge\n" in metrics and "# EOF" not in metrics,
    metrics[-40:],
)

created = store_avatar.sync_detailed("Carol@Example.org", client=admin, body=File(payload=io.BytesIO(png)))
stored = created.parsed
check(
    "a PNG wider than the master side is stored under the normalised address as its centred square, 201",
    created.status_code == 201
    and isinstance(stored, Stored)
    and stored.identity == "carol@example.org"
    and stored.format_ == StoredFormat.PNG
    and stored.width == stored.height,
    (created.status_code, stored),
)
cropped = store_avatar.sync_detailed(
    "carol@example.org", client=admin, body=File(payload=io.BytesIO(png)), crop="10,20,200"
)
check(
    "storing again with a crop replaces it: 200, the crop's side",
    cropped.status_code == 200 and isinstance(cropped.parsed, Stored) and cropped.parsed.width == 200,
    (cropped.status_code, cropped.parsed),
)
avatar = get_avatar.sync("carol@example.org", client=admin)
check(
    "it is described with its size in bytes",
    isinstance(avatar, Avatar) and avatar.bytes_ > 0 and avatar.version == cropped.parsed.version,
    avatar,
)
served = get_avatar_picture.sync("carol@example.org", client=admin)
picture_bytes = served.payload.read() if isinstance(served, File) else served
check(
    "its picture comes back as a file of the size described, a PNG",
    isinstance(served, File) and len(picture_bytes) == avatar.bytes_ and picture_bytes[:8] == b"\x89PNG\r\n\x1a\n",
    served,
)

first = list_avatars.sync(client=admin, limit=2)
check(
    "the listing pages: two, then the rest",
    isinstance(first, AvatarPage) and len(first.avatars) == 2 and first.next_ is not None,
    first,
)
rest = list_avatars.sync(client=admin, limit=2, after=first.next_)
identities = [entry.identity for entry in first.avatars + rest.avatars]
check(
    "every identity once, in order",
    identities == ["alice@example.org", "bob@example.org", "carol@example.org"] and rest.next_ is None,
    identities,
)

refused = store_avatar.sync_detailed("carol@example.org", client=admin, body=File(payload=io.BytesIO(b"not a picture")))
check(
    "a file that is no picture is refused with the error model, and says why",
    refused.status_code in (400, 415, 422) and isinstance(refused.parsed, Error) and refused.parsed.error,
    (refused.status_code, refused.parsed),
)
outside = store_avatar.sync_detailed("carol@example.org", client=admin, body=File(payload=io.BytesIO(png)), crop="900,0,200")
check(
    "a crop outside the picture is a 422 with the error model",
    outside.status_code == 422 and isinstance(outside.parsed, Error),
    (outside.status_code, outside.parsed),
)
nobody = get_avatar.sync_detailed("carol@example.org", client=Client(base_url=base_url))
check(
    "without the token: 401 with the error model",
    nobody.status_code == 401 and isinstance(nobody.parsed, Error),
    (nobody.status_code, nobody.parsed),
)

removed = remove_avatar.sync_detailed("carol@example.org", client=admin)
check("it is removed", removed.status_code in (200, 204), removed.status_code)
gone = get_avatar.sync_detailed("carol@example.org", client=admin)
check(
    "and then it is a 404 with the error model",
    gone.status_code == 404 and isinstance(gone.parsed, Error),
    (gone.status_code, gone.parsed),
)
