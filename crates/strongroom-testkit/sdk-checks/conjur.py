"""Evidence that the fake Conjur speaks the real protocol: CyberArk's own Python SDK
(PyPI `conjur-api`) authenticates, loads a policy, sets, gets and batch-gets against it; loads
into a policy branch (ids relative to the branch), annotates variables (add-only POST keeps an
existing annotation's value, PATCH changes it) and reads them back from the resource view.

Run (from the workspace root):

    cargo run -p strongroom-testkit --bin strongroom-fake -- conjur > /tmp/fake-conjur.json &
    # export the variables of the printed JSON line (FAKE_URL, CONJUR_ACCOUNT, CONJUR_AUTHN_LOGIN,
    # CONJUR_AUTHN_API_KEY), then:
    target/strongroom-venv/bin/python crates/strongroom-testkit/sdk-checks/conjur.py

Exit 0 on success; non-zero with a message naming the step that failed.
"""

import asyncio
import os
import sys
import tempfile

STEP = "start"


def fail(message):
    print(f"conjur sdk check FAILED at step '{STEP}': {message}", file=sys.stderr)
    sys.exit(1)


def need(name):
    value = os.environ.get(name)
    if not value:
        fail(f"environment variable {name} is not set (export the JSON line strongroom-fake printed)")
    return value


async def main():
    global STEP
    try:
        from conjur_api import Client
        from conjur_api.models import ConjurConnectionInfo, CredentialsData, SslVerificationMode
        from conjur_api.providers import AuthnAuthenticationStrategy, SimpleCredentialsProvider
    except ImportError as e:  # pragma: no cover
        fail(f"the conjur-api package is not installed in this Python ({e})")

    url = need("FAKE_URL")
    account = need("CONJUR_ACCOUNT")
    login = need("CONJUR_AUTHN_LOGIN")
    api_key = need("CONJUR_AUTHN_API_KEY")

    STEP = "client"
    info = ConjurConnectionInfo(conjur_url=url, account=account)
    creds = SimpleCredentialsProvider()
    creds.save(CredentialsData(machine=url, username=login, api_key=api_key))
    client = Client(
        info,
        authn_strategy=AuthnAuthenticationStrategy(creds),
        ssl_verification_mode=SslVerificationMode.INSECURE,
        async_mode=True,
    )

    STEP = "authenticate"
    token, expiration = await client.authenticate()
    if not token or '"signature"' not in token:
        fail(f"the authenticate answer is not a JSON access token")
    print(f"ok: authenticated as {login}; token expires at {expiration}")

    STEP = "load policy"
    ids = ["sdkcheck/db password", "sdkcheck/api-key", "sdkcheck/ünïcødé"]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False, encoding="utf-8") as f:
        for i in ids:
            f.write(f'- !variable "{i}"\n')
        policy_path = f.name
    try:
        result = await client.load_policy_file("root", policy_path)
    finally:
        os.unlink(policy_path)
    if not isinstance(result, dict) or "version" not in result:
        fail(f"unexpected policy load answer: {result!r}")
    print(f"ok: loaded a policy declaring {len(ids)} variables (policy version {result['version']})")

    STEP = "set"
    values = {i: f"value-of-{n}" for n, i in enumerate(ids)}
    for i, v in values.items():
        await client.set(i, v)
    await client.set(ids[0], "second version")
    values[ids[0]] = "second version"
    print(f"ok: set {len(values)} variables (one twice)")

    STEP = "get"
    for i, v in values.items():
        got = await client.get(i)
        if got != v.encode():
            fail(f"get({i!r}) returned {len(got or b'')} bytes that differ from what was set")
    got = await client.get(ids[0], version="1")
    if got != b"value-of-0":
        fail("get(version=1) did not return the first version")
    print("ok: get returns each value, and version=1 the first one")

    STEP = "batch get"
    batch = await client.get_many(*ids)
    if batch != values:
        fail(f"batch answer keys {sorted(batch)} / values differ from what was set")
    print(f"ok: batch get returned {len(batch)} values")

    STEP = "missing variable"
    from conjur_api.errors.errors import HttpStatusError

    try:
        await client.get("sdkcheck/never-declared")
        fail("reading an undeclared variable did not fail")
    except HttpStatusError as e:
        if e.status != 404:
            fail(f"reading an undeclared variable answered {e.status}, expected 404")
    try:
        await client.get_many(ids[0], "sdkcheck/never-declared")
        fail("a batch with an undeclared variable did not fail (it is all-or-nothing)")
    except HttpStatusError as e:
        if e.status != 404:
            fail(f"a batch with an undeclared variable answered {e.status}, expected 404")
    print("ok: undeclared variables are 404, alone and in a batch")

    STEP = "invalid policy"
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("- !permit\n  role: !user bob\n  privileges: [read]\n  resource: !variable x\n")
        bad_path = f.name
    try:
        await client.load_policy_file("root", bad_path)
        fail("a !permit record was accepted by the fake (it accepts !variable only)")
    except HttpStatusError as e:
        if e.status != 422:
            fail(f"an unsupported record answered {e.status}, expected 422")
    finally:
        os.unlink(bad_path)
    print("ok: a non-variable record is refused with 422")

    def policy_file(text):
        f = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False, encoding="utf-8")
        f.write(text)
        f.close()
        return f.name

    async def load(method, branch, text):
        path = policy_file(text)
        try:
            return await method(branch, path)
        finally:
            os.unlink(path)

    STEP = "policy branch"
    await load(client.load_policy_file, "root", "- !policy\n  id: sdkcheck-app\n")
    await load(
        client.load_policy_file,
        "sdkcheck-app",
        "- !variable\n"
        "  id: db/password\n"
        "  annotations:\n"
        '    description: "the app\'s db password"\n'
        "    team: platform\n",
    )
    full = "sdkcheck-app/db/password"
    await client.set(full, "branch value")
    if await client.get(full) != b"branch value":
        fail(f"{full} did not return the value set")
    try:
        await client.get("db/password")
        fail("an id declared in a branch also exists at the root (ids must be branch-relative)")
    except HttpStatusError as e:
        if e.status != 404:
            fail(f"the root-relative id answered {e.status}, expected 404")
    print("ok: `db/password` loaded into `sdkcheck-app` is the variable `sdkcheck-app/db/password`")

    STEP = "resource view"

    async def annotations_of(variable):
        res = await client.get_resource("variable", variable)
        if res.get("id") != f"{account}:variable:{variable}":
            fail(f"the resource view names {res.get('id')!r}")
        if res.get("policy") != f"{account}:policy:sdkcheck-app":
            fail(f"the variable's policy is {res.get('policy')!r}, expected the branch")
        return {a["name"]: a["value"] for a in res.get("annotations", [])}

    got = await annotations_of(full)
    if got != {"description": "the app's db password", "team": "platform"}:
        fail(f"annotations read back as {got!r}")
    print("ok: the resource view shows the variable's branch and annotations")

    STEP = "annotations: POST adds, PATCH updates"
    changed = (
        "- !variable\n"
        "  id: db/password\n"
        "  annotations:\n"
        "    description: changed\n"
        "    owner: ops\n"
    )
    await load(client.load_policy_file, "sdkcheck-app", changed)
    got = await annotations_of(full)
    if got.get("description") != "the app's db password" or got.get("owner") != "ops":
        fail(f"after an add-only load the annotations are {got!r}")
    await load(client.update_policy_file, "sdkcheck-app", changed)
    got = await annotations_of(full)
    if got.get("description") != "changed":
        fail(f"after a PATCH load the annotations are {got!r}")
    print("ok: POST adds new annotations and keeps existing values; PATCH changes them")

    STEP = "list"
    listed = await client.list({"kind": "variable", "search": "sdkcheck-app"})
    if f"{account}:variable:{full}" not in listed or any(":policy:" in i for i in listed):
        fail(f"listing variables found {listed!r}")
    print(f"ok: listing variables by kind and search finds {len(listed)}")

    print("conjur sdk check passed")


if __name__ == "__main__":
    asyncio.run(main())
