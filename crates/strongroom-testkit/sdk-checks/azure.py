#!/usr/bin/env python3
"""Runs Microsoft's Python SDK (PyPI `azure-keyvault-secrets` + `azure-identity`) against the
fake Azure Key Vault.

Evidence that the fake speaks the real protocol: the vendor's own client goes through the 401
challenge, then sets, reads (latest by trailing-slash GET, and by version), pages through a list
of more than 25 secrets via `nextLink`, soft-deletes (polling `/deletedsecrets`), hits the 409 on
a soft-deleted name, recovers, purges and selects an older api-version; deletes in a vault
without soft delete (no polling), is refused a purge by purge protection (403 Forbidden), and
gets tokens from the fake managed identity endpoints (App Service, IMDS) with azure-identity's
`ManagedIdentityCredential` — all against the fake.

Start the fake and export what it prints, then run this script with the project venv:

    cargo run -p strongroom-testkit --bin strongroom-fake -- azure   # prints one JSON line
    FAKE_URL=... AZURE_TENANT_ID=... FAKE_CA_FILE=... \
        target/strongroom-venv/bin/python crates/strongroom-testkit/sdk-checks/azure.py

The client needs `verify_challenge_resource=False` (the fake is 127.0.0.1, not
*.vault.azure.net) and `connection_verify=<CA file>`. The credential is a static one defined
here (the SDK asks it for a token for the scope and tenant the challenge named).

Exit 0 when every step passed; non-zero with a message naming the failed step otherwise.
"""

import os
import re
import secrets
import sys
import time

# This file is named azure.py: keep its own directory off the import path, or `import azure`
# would import this script instead of Microsoft's namespace package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def fail(step, why):
    print(f"azure SDK check FAILED at {step}: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    try:
        from azure.core.credentials import AccessToken, AccessTokenInfo
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
        from azure.keyvault.secrets import SecretClient
        import azure.identity  # noqa: F401  (installed alongside; proves the venv is complete)
    except ImportError as e:  # pragma: no cover - environment problem
        fail("import", f"azure-keyvault-secrets / azure-identity missing ({e}); use target/strongroom-venv")

    url = os.environ.get("FAKE_URL")
    tenant = os.environ.get("AZURE_TENANT_ID")
    ca_file = os.environ.get("FAKE_CA_FILE")
    if not (url and tenant and ca_file):
        fail("environment", "FAKE_URL, AZURE_TENANT_ID and FAKE_CA_FILE must be set "
             "(from `cargo run -p strongroom-testkit --bin strongroom-fake -- azure`)")

    class StaticCredential:
        """Hands out one token and records what the challenge made the SDK ask for."""

        def __init__(self):
            self.token = "sdk-check-" + secrets.token_hex(8)
            self.calls = []

        def get_token(self, *scopes, claims=None, tenant_id=None, enable_cae=False, **kwargs):
            self.calls.append((scopes, tenant_id))
            return AccessToken(self.token, int(time.time()) + 3600)

        def get_token_info(self, *scopes, options=None):
            options = options or {}
            self.calls.append((scopes, options.get("tenant_id")))
            return AccessTokenInfo(self.token, int(time.time()) + 3600)

    cred = StaticCredential()
    client = SecretClient(vault_url=url, credential=cred,
                          verify_challenge_resource=False, connection_verify=ca_file)
    prefix = "sdkcheck-" + secrets.token_hex(4)
    name = f"{prefix}-db-password"

    # set (first request: the 401 challenge, then the retry with a token)
    try:
        s1 = client.set_secret(name, "value-one", content_type="text/plain", tags={"team": "a"})
    except HttpResponseError as e:
        fail("set", f"HTTP {e.status_code}: {e.message}")
    if not cred.calls:
        fail("challenge", "the credential was never asked for a token")
    scopes, asked_tenant = cred.calls[0]
    if list(scopes) != ["https://vault.azure.net/.default"]:
        fail("challenge", f"unexpected scopes {scopes}")
    if asked_tenant is not None and asked_tenant != tenant:
        fail("challenge", f"token asked for tenant {asked_tenant}, challenge named {tenant}")
    if s1.value != "value-one" or s1.name != name or not re.fullmatch(r"[0-9a-f]{32}", s1.properties.version or ""):
        fail("set", f"unexpected bundle: name={s1.name} version={s1.properties.version}")
    if s1.properties.content_type != "text/plain" or s1.properties.tags != {"team": "a"}:
        fail("set", "content type / tags not echoed")

    # a second set is a new version
    s2 = client.set_secret(name, "value-two")
    if s2.properties.version == s1.properties.version:
        fail("set (again)", "no new version")

    # get latest and a given version
    try:
        latest = client.get_secret(name)
        old = client.get_secret(name, version=s1.properties.version)
    except HttpResponseError as e:
        fail("get", f"HTTP {e.status_code}: {e.message}")
    if latest.value != "value-two" or old.value != "value-one":
        fail("get", "wrong values for latest / version")
    try:
        client.get_secret(f"{prefix}-missing")
        fail("get (missing)", "no error")
    except ResourceNotFoundError:
        pass

    # list across pages (> 25 secrets)
    for i in range(30):
        client.set_secret(f"{prefix}-item-{i:02d}", f"v{i}")
    listed = {p.name for p in client.list_properties_of_secrets()}
    want = {f"{prefix}-item-{i:02d}" for i in range(30)} | {name}
    if not want <= listed:
        fail("list", f"missing {sorted(want - listed)[:5]}")
    versions = [p.version for p in client.list_properties_of_secret_versions(name)]
    if sorted(versions) != sorted([s1.properties.version, s2.properties.version]):
        fail("list versions", f"got {versions}")

    # soft delete (the poller polls /deletedsecrets/{name})
    try:
        deleted = client.begin_delete_secret(name, _polling_interval=0.05).result()
    except HttpResponseError as e:
        fail("delete", f"HTTP {e.status_code}: {e.message}")
    if deleted.name != name or deleted.recovery_id is None or deleted.deleted_date is None:
        fail("delete", "DeletedSecret lacks name / recovery_id / deleted_date")
    try:
        client.get_secret(name)
        fail("get (deleted)", "still readable")
    except ResourceNotFoundError:
        pass
    if client.get_deleted_secret(name).name != name:
        fail("get deleted", "wrong name")

    # set on a soft-deleted name: 409 ObjectIsDeletedButRecoverable
    try:
        client.set_secret(name, "value-three")
        fail("set (soft-deleted)", "accepted")
    except HttpResponseError as e:
        text = str(e)
        if e.status_code != 409 or "ObjectIsDeletedButRecoverable" not in text and "deleted but recoverable" not in text:
            fail("set (soft-deleted)", f"expected 409 ObjectIsDeletedButRecoverable, got {e.status_code}")

    # recover, read again
    try:
        client.begin_recover_deleted_secret(name, _polling_interval=0.05).result()
    except HttpResponseError as e:
        fail("recover", f"HTTP {e.status_code}: {e.message}")
    if client.get_secret(name).value != "value-two":
        fail("recover", "value not back")

    # delete again and purge
    client.begin_delete_secret(name, _polling_interval=0.05).result()
    try:
        client.purge_deleted_secret(name)
    except HttpResponseError as e:
        fail("purge", f"HTTP {e.status_code}: {e.message}")
    try:
        client.get_deleted_secret(name)
        fail("purge", "still in deletedsecrets")
    except ResourceNotFoundError:
        pass
    if client.set_secret(name, "reborn").value != "reborn":
        fail("set (after purge)", "name not reusable")

    # deleted-secret listing and an older api-version
    client.begin_delete_secret(name, _polling_interval=0.05).result()
    if name not in {d.name for d in client.list_deleted_secrets()}:
        fail("list deleted", "purge candidate missing")
    client.purge_deleted_secret(name)
    old_api = SecretClient(vault_url=url, credential=cred, api_version="7.5",
                           verify_challenge_resource=False, connection_verify=ca_file)
    if old_api.get_secret(f"{prefix}-item-07").value != "v7":
        fail("api-version 7.5", "wrong value")

    # A vault without soft delete (recovery level Purgeable): the delete answer has no
    # recoveryId, so the SDK's poller is done at once; the name is free again immediately.
    purgeable_url = os.environ.get("FAKE_URL_PURGEABLE")
    protected_url = os.environ.get("FAKE_URL_PURGE_PROTECTED")
    if not (purgeable_url and protected_url):
        fail("environment", "FAKE_URL_PURGEABLE and FAKE_URL_PURGE_PROTECTED must be set")
    plain = SecretClient(vault_url=purgeable_url, credential=cred,
                         verify_challenge_resource=False, connection_verify=ca_file)
    s = plain.set_secret(name, "short-lived")
    if str(s.properties.recovery_level) not in ("Purgeable", "DeletionRecoveryLevel.PURGEABLE"):
        fail("purgeable vault", f"recovery level {s.properties.recovery_level}")
    poller = plain.begin_delete_secret(name, _polling_interval=0.05)
    if not poller.done():
        fail("purgeable vault", "the delete poller waits although the vault has no soft delete")
    gone = poller.result()
    if gone.recovery_id is not None:
        fail("purgeable vault", "the delete answer carries a recoveryId")
    for step, call in (("get", lambda: plain.get_secret(name)),
                       ("get deleted", lambda: plain.get_deleted_secret(name))):
        try:
            call()
            fail(f"purgeable vault {step}", "still there")
        except ResourceNotFoundError:
            pass
    if plain.set_secret(name, "again").value != "again":
        fail("purgeable vault", "name not reusable at once")

    # A vault with purge protection: the purge is refused with 403 Forbidden and the
    # service's message, no innererror.
    guarded = SecretClient(vault_url=protected_url, credential=cred,
                           verify_challenge_resource=False, connection_verify=ca_file)
    s = guarded.set_secret(name, "kept")
    if str(s.properties.recovery_level) not in ("Recoverable", "DeletionRecoveryLevel.RECOVERABLE"):
        fail("purge-protected vault", f"recovery level {s.properties.recovery_level}")
    guarded.begin_delete_secret(name, _polling_interval=0.05).result()
    try:
        guarded.purge_deleted_secret(name)
        fail("purge-protected vault", "purge accepted")
    except HttpResponseError as e:
        code = e.error.code if e.error else None
        if e.status_code != 403 or code != "Forbidden" or "purge protection" not in str(e.message):
            fail("purge-protected vault", f"expected 403 Forbidden about purge protection, got {e.status_code} {code}")

    # Managed identity endpoints, through azure-identity's own ManagedIdentityCredential:
    # App Service (IDENTITY_ENDPOINT + IDENTITY_HEADER), then IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST).
    from azure.identity import ManagedIdentityCredential
    scope = "https://vault.azure.net/.default"
    for var in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
                "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_CLIENT_ID"):
        os.environ.pop(var, None)
    os.environ["IDENTITY_ENDPOINT"] = os.environ["FAKE_IDENTITY_ENDPOINT"]
    os.environ["IDENTITY_HEADER"] = os.environ["FAKE_IDENTITY_HEADER"]
    try:
        tok = ManagedIdentityCredential().get_token(scope)
    except Exception as e:  # noqa: BLE001 - report whatever the SDK raised
        fail("managed identity (App Service)", f"{type(e).__name__}: {e}")
    if not tok.token or tok.expires_on <= time.time():
        fail("managed identity (App Service)", "no usable token")
    mi_client = SecretClient(vault_url=url, credential=ManagedIdentityCredential(),
                             verify_challenge_resource=False, connection_verify=ca_file)
    if mi_client.get_secret(f"{prefix}-item-03").value != "v3":
        fail("managed identity (App Service)", "the vault did not accept the token")
    del os.environ["IDENTITY_ENDPOINT"], os.environ["IDENTITY_HEADER"]
    os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = os.environ["FAKE_IMDS_HOST"]
    try:
        tok = ManagedIdentityCredential().get_token(scope)
    except Exception as e:  # noqa: BLE001
        fail("managed identity (IMDS)", f"{type(e).__name__}: {e}")
    if not tok.token or tok.expires_on <= time.time():
        fail("managed identity (IMDS)", "no usable token")

    print("azure SDK check passed: challenge, set, get, versions, list (paged), delete, 409, recover, purge, "
          "api-version, vault without soft delete, purge protection, managed identity (App Service, IMDS)")


if __name__ == "__main__":
    main()
