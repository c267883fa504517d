#!/usr/bin/env python3
"""Runs the official Akeyless Python SDK (PyPI `akeyless`) against the fake Akeyless.

Evidence that the fake speaks the real protocol: if the vendor's own client can log in,
create, read, update, describe, list and delete through it, the wire shapes match.

Start the fake and export what it prints, then run this script with the project venv:

    cargo run -p strongroom-testkit --bin strongroom-fake -- akeyless   # prints one JSON line
    FAKE_URL=... AKEYLESS_ACCESS_ID=... AKEYLESS_ACCESS_KEY=... \
        target/strongroom-venv/bin/python crates/strongroom-testkit/sdk-checks/akeyless.py

Exit 0 when every step passed; non-zero with a message naming the failed step otherwise.
"""

import datetime
import os
import secrets
import sys

# This file is named like the SDK package: keep its own directory off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def fail(step, why):
    print(f"akeyless SDK check FAILED at {step}: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    try:
        import akeyless
        from akeyless.rest import ApiException
    except ImportError as e:  # pragma: no cover - environment problem
        fail("import", f"the `akeyless` package is not installed ({e}); use target/strongroom-venv")

    url = os.environ.get("FAKE_URL")
    access_id = os.environ.get("AKEYLESS_ACCESS_ID")
    access_key = os.environ.get("AKEYLESS_ACCESS_KEY")
    if not (url and access_id and access_key):
        fail("environment", "FAKE_URL, AKEYLESS_ACCESS_ID and AKEYLESS_ACCESS_KEY must be set "
             "(from `cargo run -p strongroom-testkit --bin strongroom-fake -- akeyless`)")

    api = akeyless.V2Api(akeyless.ApiClient(akeyless.Configuration(host=url)))

    # auth
    try:
        out = api.auth(akeyless.Auth(access_id=access_id, access_key=access_key))
    except ApiException as e:
        fail("auth", f"HTTP {e.status}")
    token = out.token
    if not token or not token.startswith("t-"):
        fail("auth", "no t- token in the answer")
    if out.creds is None or not isinstance(out.creds.expiry, int):
        fail("auth", "creds.expiry is not an integer")

    # a wrong key is refused with 401
    try:
        api.auth(akeyless.Auth(access_id=access_id, access_key="wrong-key"))
        fail("auth (wrong key)", "accepted")
    except ApiException as e:
        if e.status != 401:
            fail("auth (wrong key)", f"expected 401, got {e.status}")

    folder = f"/sdk-check-{secrets.token_hex(4)}"
    name = f"{folder}/db password"
    v1 = "v1-" + secrets.token_hex(8)
    v2 = "v2-" + secrets.token_hex(8)

    # create
    try:
        created = api.create_secret(akeyless.CreateSecret(name=name, value=v1, token=token))
    except ApiException as e:
        fail("create-secret", f"HTTP {e.status}")
    if created.name != name:
        fail("create-secret", f"answer names {created.name!r}")

    # creating it again is refused (409) rather than overwriting
    try:
        api.create_secret(akeyless.CreateSecret(name=name, value=v2, token=token))
        fail("create-secret (exists)", "accepted")
    except ApiException as e:
        if e.status != 409:
            fail("create-secret (exists)", f"expected 409, got {e.status}")

    # get
    got = api.get_secret_value(akeyless.GetSecretValue(names=[name], token=token))
    if not isinstance(got, dict) or got.get(name) != v1:
        fail("get-secret-value", "the answer is not the plain map {name: value} with the written value")

    # update
    try:
        api.update_secret_val(akeyless.UpdateSecretVal(name=name, value=v2, token=token))
    except ApiException as e:
        fail("update-secret-val", f"HTTP {e.status}")
    got = api.get_secret_value(akeyless.GetSecretValue(names=[name], token=token))
    if got.get(name) != v2:
        fail("update-secret-val", "get-secret-value does not return the new value")
    got = api.get_secret_value(akeyless.GetSecretValue(names=[name], token=token, version=1))
    if got.get(name) != v1:
        fail("get-secret-value (version 1)", "the first version is not kept")

    # describe
    item = api.describe_item(akeyless.DescribeItem(name=name, token=token))
    if item.item_name != name or item.item_type != "STATIC_SECRET" or item.last_version != 2:
        fail("describe-item", f"unexpected item {item.item_name!r} {item.item_type!r} {item.last_version!r}")
    if not isinstance(item.creation_date, datetime.datetime):
        fail("describe-item", "creation_date is not an RFC 3339 date")

    # update-item: description and tags (the SDK sends its `default_metadata` placeholder for
    # fields left unset, which must leave them unchanged)
    try:
        api.update_item(akeyless.UpdateItem(name=name, description="set by the SDK", token=token))
        api.update_item(akeyless.UpdateItem(name=name, add_tag=["env=sdk", "team=core"], token=token))
        api.update_item(akeyless.UpdateItem(name=name, rm_tag=["team=core"], token=token))
    except ApiException as e:
        fail("update-item", f"HTTP {e.status}")
    item = api.describe_item(akeyless.DescribeItem(name=name, token=token))
    if item.item_metadata != "set by the SDK":
        fail("update-item", f"description is {item.item_metadata!r}")
    if list(item.item_tags or []) != ["env=sdk"]:
        fail("update-item", f"tags are {item.item_tags!r}")

    # delete protection: create-secret sets it, delete-item is refused with 400 + error body,
    # update-item turns it off
    protected = f"{folder}/protected"
    api.create_secret(akeyless.CreateSecret(
        name=protected, value="p", token=token, delete_protection="true",
        description="keep me", tags=["tier=gold"]))
    item = api.describe_item(akeyless.DescribeItem(name=protected, token=token))
    if item.delete_protection is not True or item.item_metadata != "keep me" or list(item.item_tags or []) != ["tier=gold"]:
        fail("create-secret (protected)", "delete_protection, description or tags not stored")
    try:
        api.delete_item(akeyless.DeleteItem(name=protected, token=token))
        fail("delete-item (protected)", "accepted")
    except ApiException as e:
        if e.status != 400 or '"error"' not in (e.body or ""):
            fail("delete-item (protected)", f"expected 400 with an error body, got {e.status}")
    api.update_item(akeyless.UpdateItem(name=protected, delete_protection="false", token=token))
    try:
        api.delete_item(akeyless.DeleteItem(name=protected, token=token))
    except ApiException as e:
        fail("delete-item (unprotected)", f"HTTP {e.status}")

    # list (one folder; the new folder shows under the root)
    listed = api.list_items(akeyless.ListItems(path=folder, token=token))
    names = [i.item_name for i in (listed.items or [])]
    if name not in names:
        fail("list-items", f"{name!r} not in {names!r}")
    root = api.list_items(akeyless.ListItems(path="/", token=token))
    if folder + "/" not in (root.folders or []):
        fail("list-items", f"folder {folder + '/'!r} not in {root.folders!r}")

    # delete
    try:
        deleted = api.delete_item(akeyless.DeleteItem(name=name, token=token))
    except ApiException as e:
        fail("delete-item", f"HTTP {e.status}")
    if deleted.item_name != name or not isinstance(deleted.deletion_date, datetime.datetime):
        fail("delete-item", "the answer lacks item_name or an RFC 3339 deletion_date")

    # gone: 404 with {"error": ...}
    try:
        api.get_secret_value(akeyless.GetSecretValue(names=[name], token=token))
        fail("get-secret-value (deleted)", "still readable")
    except ApiException as e:
        if e.status != 404 or '"error"' not in (e.body or ""):
            fail("get-secret-value (deleted)", f"expected 404 with an error body, got {e.status}")

    # a bad token is 401
    try:
        api.list_items(akeyless.ListItems(path="/", token="t-not-a-token"))
        fail("list-items (bad token)", "accepted")
    except ApiException as e:
        if e.status != 401:
            fail("list-items (bad token)", f"expected 401, got {e.status}")

    print("akeyless SDK check passed: auth, create, get, update, describe, update-item, delete protection, list, delete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
