#!/usr/bin/env python3
"""Runs Google's Python client (PyPI `google-cloud-secret-manager`, REST transport, with
`google-auth`) against the fake Secret Manager.

Evidence that the fake speaks the real protocol: the vendor's client signs a service-account
JWT that the fake's token endpoint verifies, creates a secret, adds versions (sending CRC32C),
accesses latest / a number (checking the CRC32C the fake returns), gets NOT_FOUND, is refused a
disabled version with FAILED_PRECONDITION, pages through a list with page tokens, deletes; and
google-auth's metadata-server credentials get a token from the fake metadata server.

    cargo run -p strongroom-testkit --bin strongroom-fake -- gcp   # prints one JSON line
    FAKE_URL=... GOOGLE_APPLICATION_CREDENTIALS=... GOOGLE_SECRET_MANAGER_PROJECT_ID=... \
        target/strongroom-venv/bin/python crates/strongroom-testkit/sdk-checks/gcp.py

Exit 0 when every step passed; non-zero with a message naming the failed step otherwise.
"""

import os
import secrets
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def fail(step, why):
    print(f"gcp SDK check FAILED at {step}: {why}", file=sys.stderr)
    sys.exit(1)


def crc32c(data):
    """CRC-32C (Castagnoli), reflected, as Secret Manager's data_crc32c."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def run():
    from google.api_core import exceptions
    from google.api_core.client_options import ClientOptions
    from google.cloud import secretmanager
    from google.oauth2 import service_account

    url = os.environ.get("FAKE_URL")
    key = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    project = os.environ.get("GOOGLE_SECRET_MANAGER_PROJECT_ID")
    if not (url and key and project):
        fail("environment", "FAKE_URL, GOOGLE_APPLICATION_CREDENTIALS and GOOGLE_SECRET_MANAGER_PROJECT_ID must be set")

    creds = service_account.Credentials.from_service_account_file(
        key, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    client = secretmanager.SecretManagerServiceClient(
        credentials=creds, transport="rest", client_options=ClientOptions(api_endpoint=url))
    parent = f"projects/{project}"
    sid = "sdkcheck-" + secrets.token_hex(4)

    try:
        secret = client.create_secret(request={"parent": parent, "secret_id": sid,
                                               "secret": {"replication": {"automatic": {}}, "labels": {"team": "a"}}})
    except exceptions.GoogleAPICallError as e:
        fail("create", f"{type(e).__name__}: {e}")
    if not secret.name.endswith(f"/secrets/{sid}") or secret.labels.get("team") != "a":
        fail("create", f"unexpected secret {secret.name} {dict(secret.labels)}")
    try:
        client.create_secret(request={"parent": parent, "secret_id": sid, "secret": {"replication": {"automatic": {}}}})
        fail("create (again)", "accepted")
    except exceptions.Conflict as e:  # REST maps by HTTP status: 409 ALREADY_EXISTS
        if "already exists" not in str(e):
            fail("create (again)", f"unexpected 409: {e}")

    def add(data):
        crc = crc32c(data)
        return client.add_secret_version(request={"parent": secret.name, "payload": {"data": data, "data_crc32c": crc}})

    v1 = add(b"value-one")
    v2 = add(b"value-two")
    if not (v1.name.endswith("/versions/1") and v2.name.endswith("/versions/2")):
        fail("add version", f"{v1.name} {v2.name}")

    def access(version):
        r = client.access_secret_version(request={"name": f"{secret.name}/versions/{version}"})
        if crc32c(r.payload.data) != r.payload.data_crc32c:
            fail("access", "the CRC32C the fake returned does not match the data")
        return r.payload.data

    if access("latest") != b"value-two" or access("1") != b"value-one":
        fail("access", "wrong values for latest / 1")
    try:
        access("9")
        fail("access (missing version)", "no error")
    except exceptions.NotFound:
        pass
    try:
        client.access_secret_version(request={"name": f"{parent}/secrets/{sid}-missing/versions/latest"})
        fail("access (missing secret)", "no error")
    except exceptions.NotFound:
        pass

    client.disable_secret_version(request={"name": f"{secret.name}/versions/2"})
    try:
        access("latest")
        fail("access (disabled)", "no error")
    except exceptions.BadRequest as e:  # 400 FAILED_PRECONDITION
        if "DISABLED" not in str(e):
            fail("access (disabled)", f"message does not say DISABLED: {e}")
    client.enable_secret_version(request={"name": f"{secret.name}/versions/2"})

    for i in range(7):
        client.create_secret(request={"parent": parent, "secret_id": f"{sid}-item-{i}",
                                      "secret": {"replication": {"automatic": {}}}})
    pager = client.list_secrets(request={"parent": parent, "page_size": 3})
    listed = {s.name.rsplit("/", 1)[1] for s in pager}
    want = {f"{sid}-item-{i}" for i in range(7)} | {sid}
    if not want <= listed:
        fail("list", f"missing {sorted(want - listed)[:5]}")
    filtered = {s.name.rsplit("/", 1)[1] for s in client.list_secrets(request={"parent": parent, "filter": f"name:{sid}-item"})}
    if filtered != want - {sid}:
        fail("list (filter)", f"got {sorted(filtered)[:5]}")

    client.delete_secret(request={"name": secret.name})
    try:
        client.get_secret(request={"name": secret.name})
        fail("delete", "still there")
    except exceptions.NotFound:
        pass

    # The metadata server, through google-auth's own compute_engine credentials.
    from google.auth import compute_engine
    import google.auth.transport.requests
    try:
        mds = compute_engine.Credentials()
        mds.refresh(google.auth.transport.requests.Request())
    except Exception as e:  # noqa: BLE001 - report whatever google-auth raised
        fail("metadata server", f"{type(e).__name__}: {e}")
    if not mds.token:
        fail("metadata server", "no token")

    print("gcp SDK check passed: service-account JWT, create, already-exists, add versions with CRC32C, access "
          "(latest, number, CRC32C), NOT_FOUND, FAILED_PRECONDITION on a disabled version, list (paged, filtered), "
          "delete, metadata server")


if __name__ == "__main__":
    try:
        import google.cloud.secretmanager  # noqa: F401
    except ImportError as e:
        fail("import", f"google-cloud-secret-manager missing ({e}); use target/strongroom-venv")
    run()
