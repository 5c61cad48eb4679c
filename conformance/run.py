"""Runs the certification plans' modules against a running OP and writes the tables.

    python conformance/run.py --issuer http://127.0.0.1:PORT --sesame-bin BIN --database sqlite://… \\
        --username U --password P [--plans a,b] [--markdown FILE] [--header FILE]

Clients are registered with `sesame clients add` (and, for the dynamic_client
modules, at the OP's registration endpoint). A small HTTP server on 127.0.0.1
serves the request objects named by request_uri. Prints one line per module
("PASS plan: module [variant]" / "FAIL …: condition: detail" / "SKIPPED …" /
"N/A …"); exits 1 if any FAIL.
"""

from __future__ import annotations

import argparse
import copy
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import fapi2
import modules
from fapi2_flow import FapiClient, FapiVariant, Key
from oidcc import Client, Ctx, Fail, NotApplicable, Skip, Variant
from plans import FAPI2_NOT_APPLICABLE, FAPI2_PLAN, FAPI2_PLAN_PREFIX, FAPI2_SKIPPED_VARIANTS, PLANS

SLUG = {"code": "code", "id_token": "idt", "id_token token": "idt-tok", "code id_token": "code-idt",
        "code token": "code-tok", "code id_token token": "code-idt-tok"}


def serve_request_objects(store: dict, received: dict, port: int = 0) -> int:
    """Serves request objects (request_uri) and takes back-channel logout POSTs (kept in `received`)."""
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(n, 65536)).decode("utf-8", "replace")
            received.setdefault(self.path, []).append(
                {"body": body, "content_type": self.headers.get("Content-Type", ""), "at": time.time()})
            self.send_response(200)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            url = f"http://{self.headers.get('Host')}{self.path.split('#')[0]}"
            body = store.get(url)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if self.path.endswith(".json") else "application/oauth-authz-req+jwt")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def clients_add(a, name, redirect_uri, rt, auth, request_uri=None, post_logout=None, backchannel=None) -> Client:
    grants = []
    types = rt.split()
    if "code" in types:
        grants += ["authorization_code", "refresh_token"]
    if rt != "code":
        grants.append("implicit")
    cmd = [a.sesame_bin, "--database", a.database, "clients", "add", "--name", name, "--redirect-uri", redirect_uri,
           "--response-type", rt, "--auth-method", auth, "--post-logout-redirect-uri", post_logout, "--json"]
    for g in grants:
        cmd += ["--grant-type", g]
    if backchannel:
        cmd += ["--backchannel-logout-uri", backchannel]
    if request_uri:
        # one per response mode: the default and form_post plans run at the same time
        for mode in ("default", "form_post"):
            cmd += ["--request-uri", request_uri.replace(".jwt", f"-{mode}.jwt")]
        cmd += ["--request-object-alg", "none"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={"SESAME_LOG_LEVEL": "warn", "PATH": "/usr/bin:/bin"}).stdout
    j = json.loads(out)
    return Client(j["client_id"], j["client_secret"], auth, redirect_uri, rt, request_uri, post_logout_redirect_uri=post_logout,
                  backchannel_logout_uri=backchannel)


def fapi2_clients(a, rp: str) -> FapiVariant:
    """The FAPI 2.0 plan's two clients at the FAPI server (`sesame serve` with profile = "fapi2"):
    private_key_jwt with an RSA (PS256) key and with an EC (ES256) key, ES256 ID tokens; the profile
    turns on PAR, PKCE S256 and DPoP-bound tokens. Client 2's redirect URI has its own query, as the
    suite's client2 has, to check that the OP keeps it."""
    import tempfile
    out = []
    for n, (kind, cb) in enumerate((("RSA", f"{rp}/cb/fapi2"), ("EC", f"{rp}/cb/fapi2-2?dummy1=lorem&dummy2=ipsum")), 1):
        key = Key(kind)
        with tempfile.NamedTemporaryFile("w", suffix=".jwks.json", delete=False) as fh:
            json.dump({"keys": [key.jwk()]}, fh)
        cmd = [a.sesame_bin, "--database", a.fapi2_database, "clients", "add", "--name", f"conformance fapi2 client {n}",
               "--redirect-uri", cb, "--auth-method", "private_key_jwt", "--jwks", fh.name, "--id-token-alg", "ES256",
               "--grant-type", "authorization_code", "--grant-type", "refresh_token", "--json"]
        res = subprocess.run(cmd, check=True, capture_output=True, text=True, env={"SESAME_LOG_LEVEL": "warn", "PATH": "/usr/bin:/bin"})
        j = json.loads(res.stdout)
        c = Client(j["client_id"], "", "private_key_jwt", cb, "code", id_token_alg="ES256")
        out.append(FapiClient(client=c, key=key, redirect_uri=cb))
    return FapiVariant(FAPI2_PLAN, *out)


def run_fapi2_module(fctx: Ctx, m: str, rt: str, v: FapiVariant | None):
    """One module of the FAPI 2.0 plan: N/A and the declined mTLS variants first, else fapi2's function."""
    for mod, variant, why in FAPI2_SKIPPED_VARIANTS:
        if m == mod and rt == variant:
            raise Skip(why)
    short = m[len(FAPI2_PLAN_PREFIX):]
    if short in FAPI2_NOT_APPLICABLE:
        raise NotApplicable(FAPI2_NOT_APPLICABLE[short])
    # a fresh DPoP key per module, as the suite's GenerateDpopKey
    c1, c2 = copy.copy(v.c1), copy.copy(v.c2)
    c1.dpop, c2.dpop = Key(), Key()
    getattr(fapi2, short.replace("-", "_"))(fctx, FapiVariant(v.plan, c1, c2))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--sesame-bin", help="register the clients with `sesame clients add`")
    ap.add_argument("--database")
    ap.add_argument("--clients-json", help="or: the OP's static clients, {response_type: [basic, post, client2]} (the reference OP)")
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--plans", default=",".join(PLANS))
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--markdown", help="write the tables (Markdown) here")
    ap.add_argument("--json", help="write the results (JSON, for report.py) here")
    ap.add_argument("--host-port", type=int, default=0, help="the runner's own HTTP server (request objects, back-channel logout)")
    ap.add_argument("--only", help="run only these modules (comma-separated), for debugging")
    ap.add_argument("--fapi2-issuer", help="the OP held to the FAPI 2.0 profile (the FAPI 2.0 plan runs only with it)")
    ap.add_argument("--fapi2-database", help="its database (clients added with `sesame clients add`)")
    a = ap.parse_args()

    store: dict = {}
    received: dict = {}
    port = serve_request_objects(store, received, a.host_port)
    host = f"http://127.0.0.1:{port}"
    # Redirect URIs: https on a reserved name (OIDC Registration 2: implicit clients register https
    # only). Nothing listens there; the browser stops at the redirect and reads it.
    rp = "https://rp.conformance.test"
    ctx = Ctx(a.issuer, a.username, a.password, store, rp + "/cb/")
    ctx.received = received
    ctx.host = host
    ctx.rotate_keys = None
    if a.sesame_bin:
        def rotate():
            # the operator's rotation; SESAME_KEY_PUBLISH_DELAY=0 lets the next key, published when the
            # server started a moment ago, sign at once (in production it waits for JWKS caches)
            subprocess.run([a.sesame_bin, "--database", a.database, "keys", "rotate"], check=True, capture_output=True,
                           env={"SESAME_LOG_LEVEL": "warn", "SESAME_KEY_PUBLISH_DELAY": "0", "PATH": "/usr/bin:/bin"})
            time.sleep(62)  # a running `sesame serve` reloads its keys from the database every 60 s
        ctx.rotate_keys = rotate
    plans = [p for p in a.plans.split(",") if p and (p != FAPI2_PLAN or a.fapi2_issuer)]
    fctx = fvariant = None
    if FAPI2_PLAN in plans:
        fctx = Ctx(a.fapi2_issuer, a.username, a.password, store, rp + "/cb/")
        fctx.received, fctx.host, fctx.rotate_keys = received, host, None
        fvariant = fapi2_clients(a, rp)

    # clients: per response type, one of each kind (registered once, shared by the default and form_post plans)
    needed = set()
    for p in plans:
        entries, _mode = PLANS[p]
        if p != FAPI2_PLAN:
            needed |= {rt for _m, rt, _auth in entries() if rt}
    clients = {}
    given = json.load(open(a.clients_json)) if a.clients_json else None
    for rt in sorted(needed):
        s = SLUG[rt]
        cb = f"{rp}/cb/{s}"
        plr = f"{rp}/post_logout_redirect/{s}"
        if given:
            clients[rt] = tuple(
                Client(c["client_id"], c["client_secret"], c["auth_method"], cb, rt,
                       f"{host}/ro/{s}.jwt" if k == 0 else None, post_logout_redirect_uri=plr,
                       backchannel_logout_uri=f"{host}/bcl/{s}" if k == 0 else None)
                for k, c in enumerate(given[rt]))
            continue
        clients[rt] = (
            clients_add(a, f"conformance {rt}", cb, rt, "client_secret_basic", request_uri=f"{host}/ro/{s}.jwt", post_logout=plr,
                        backchannel=f"{host}/bcl/{s}"),
            clients_add(a, f"conformance {rt} (post)", cb, rt, "client_secret_post", post_logout=plr),
            clients_add(a, f"conformance {rt} (client 2)", cb, rt, "client_secret_basic", post_logout=plr),
        )

    jobs = []
    for p in plans:
        entries, mode = PLANS[p]
        for m, rt, auth in entries():
            if p == FAPI2_PLAN:
                jobs.append((p, m, rt, auth, fvariant if auth else None))
                continue
            v = Variant(p, rt, mode, *clients[rt]) if rt else None
            if v:
                main_client = copy.copy(v.client)
                main_client.request_uri = v.client.request_uri.replace(".jwt", f"-{mode}.jwt")
                v.client = main_client
            jobs.append((p, m, rt, auth, v))

    results: dict[int, tuple] = {}

    def run(i, job, shared=None):
        p, m, rt, auth, v = job
        mctx = copy.copy(ctx)
        mctx.warnings = []
        mctx.shared = shared
        name = m.replace("-", "_")
        # the Dynamic plan's variant of a module (dynamic_client, private_key_jwt) where it differs
        fn = getattr(modules, "dyn_" + name, None) if auth == "private_key_jwt" else None
        fn = fn or getattr(modules, name, None)
        if p == FAPI2_PLAN:
            fctx_m = copy.copy(fctx)
            fctx_m.warnings = mctx.warnings
            fn = lambda _c, _v: run_fapi2_module(fctx_m, m, rt, v)  # noqa: E731
        t0 = time.time()
        try:
            fn(mctx, v)
            status, note = "PASS", "; ".join(mctx.warnings)
        except Fail as e:
            status, note = "FAIL", f"{e.condition}: {e.detail}"
        except Skip as e:
            status, note = "SKIPPED", str(e)
        except NotApplicable as e:
            status, note = "N/A", str(e)
        except Exception as e:  # noqa: BLE001 - a runner error is a failure to look at
            status, note = "FAIL", f"runner error: {type(e).__name__}: {e}"
            traceback.print_exc()
        results[i] = (p, m, rt, auth, status, note, time.time() - t0)
        label = f"{p}: {m}" + (f" [{rt}{', ' + auth if auth and auth != 'client_secret_basic' else ''}]" if rt else "")
        print(f"{status} {label}{': ' + note if note else ''}", flush=True)

    only = set(a.only.split(",")) if a.only else None
    todo = [(i, j) for i, j in enumerate(jobs) if not only or j[1] in only]
    # modules that sleep (30 s, 60 s, the OP's key reload after a rotation) run beside the rest; a
    # rotation promotes the published next key, which every module's JWKS copy already holds
    waits = ("oidcc-codereuse-30seconds", "oidcc-refresh-token-rp-key-rotation", "oidcc-server-rotate-keys",
             FAPI2_PLAN_PREFIX + "ensure-token-endpoint-fails-with-expired-auth-code",
             FAPI2_PLAN_PREFIX + "par-attempt-to-use-expired-request_uri")
    slow = [(i, j) for i, j in todo if j[1] in waits]
    rest = [(i, j) for i, j in todo if j[1] not in waits]
    threads = [threading.Thread(target=run, args=ij) for ij in slow]
    for t in threads:
        t.start()
    # The modules of one plan and response type run in order, in one browser session (the
    # tester's browser in the suite); the groups run side by side.
    groups: dict = {}
    for i, j in rest:
        # the FAPI 2.0 modules each start their own browser (the suite's tester logs in per module)
        groups.setdefault((j[0], j[2] if j[0] != FAPI2_PLAN else j[1]), []).append((i, j))

    def run_group(items):
        shared = Ctx.fresh_browser()
        for i, j in items:
            run(i, j, shared)

    with ThreadPoolExecutor(max_workers=a.workers) as ex:
        list(ex.map(run_group, groups.values()))
    for t in threads:
        t.join()

    ordered = [results[i] for i in sorted(results)]
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(markdown(ordered, plans))
    if a.json:
        with open(a.json, "w") as f:
            json.dump([dict(zip(("plan", "module", "response_type", "auth", "status", "note", "seconds"), r))
                       for r in ordered], f)
    counts = {}
    for r in ordered:
        counts[r[4]] = counts.get(r[4], 0) + 1
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 1 if counts.get("FAIL") else 0


def markdown(rows, plans) -> str:
    out = []
    for p in plans:
        prs = [r for r in rows if r[0] == p]
        if not prs:
            continue
        n = {}
        for r in prs:
            n[r[4]] = n.get(r[4], 0) + 1
        out.append(f"## {p}\n")
        out.append(", ".join(f"{k}: {c}" for k, c in sorted(n.items())) + "\n")
        out.append("| module | variant | result | note |")
        out.append("|---|---|---|---|")
        for _p, m, rt, auth, status, note, _t in prs:
            variant = "" if not rt else f"{rt}, {auth}"
            note = note.replace("|", "\\|").replace("\n", " ")
            out.append(f"| {m} | {variant} | {status} | {note} |")
        out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
