"""One module's run: the test provider with its faults, `sesame app` pointed at it, browsers,
and the suite's decision rules (signed in with the right claims; or rejected: no session and
no token or userinfo request after the fault was visible).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import requests

from browser import Browser
from provider import SUB, USER, Provider


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class NotApplicable(Exception):
    """The suite's "variant not applicable": the module does not run in this variant."""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Env:
    """What every module shares: the binary, its `sesame app --help`, the keys, a key file."""

    def __init__(self, sesame_bin: str, keys, work: str):
        self.bin = sesame_bin
        self.keys = keys
        self.work = work
        self.help = subprocess.run([sesame_bin, "app", "--help"], capture_output=True, text=True, check=True).stdout
        self.private_key = os.path.join(work, "rp-key.pem")
        if not os.path.exists(self.private_key):
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            with open(self.private_key, "wb") as f:
                f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))

    def needs(self, *flags: str, what: str):
        """FAIL "needs …" when `sesame app --help` lacks a flag the module needs."""
        missing = [f for f in flags if f not in self.help]
        if missing:
            raise Fail(f"needs {what} (`sesame app {' '.join(missing)}` is not in `sesame app --help`)")


class Run:
    """The provider and the app of one module."""

    CLIENT_ID = "rp-conformance"
    SECRET = "rp-conformance-secret-0123456789abcdef"

    def __init__(self, env: Env, rt: str = "code", faults=(), *, dynamic=False, access_ttl=3600,
                 backchannel=False, frontchannel=False, provider=None):
        self.env = env
        self.rt = rt
        self.p = (provider or Provider(env.keys, faults, access_ttl=access_ttl, dynamic=dynamic)).start()
        self.port = free_port()
        self.app = f"http://127.0.0.1:{self.port}"
        self.dynamic = dynamic
        self.proc = None
        self.stderr_path = os.path.join(env.work, f"app-{self.port}.log")
        if not dynamic and provider is None:
            meta = {"secret": self.SECRET, "redirect_uris": [self.app + "/callback"], "auth_method": "client_secret_basic",
                    "response_types": [rt], "post_logout_redirect_uris": [self.app + "/"]}
            if backchannel:
                meta["backchannel_logout_uri"] = self.app + "/backchannel-logout"
            if frontchannel:
                meta["frontchannel_logout_uri"] = self.app + "/frontchannel-logout"
            self.p.add_client(self.CLIENT_ID, **meta)

    # ------------------------------------------------------------------ the app
    def start_app(self, *extra: str, issuer: str | None = None) -> str | None:
        """Starts `sesame app`; None when it serves, else the reason it did not start."""
        cmd = [self.env.bin, "app", "--issuer", issuer or self.p.issuer, "--listen", f"127.0.0.1:{self.port}"]
        cmd += self.client_args()
        if self.rt != "code":
            cmd += ["--response-type", self.rt]
        cmd += list(extra)
        self.cmd = cmd
        err = open(self.stderr_path, "w")
        env = {"PATH": "/usr/bin:/bin", "SESAME_LOG_LEVEL": os.environ.get("SESAME_LOG_LEVEL", "warn")}
        self.proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, env=env, cwd=self.env.work)
        for _ in range(200):
            if self.proc.poll() is not None:
                return self.app_log() or f"exited with {self.proc.returncode}"
            try:
                if requests.get(self.app + "/", timeout=2).status_code < 500:
                    return None
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return "did not answer within 10 s"

    def client_args(self) -> list[str]:
        """How the app names its client: registered at start, or the static one with its secret."""
        if self.dynamic:
            return ["--register"]
        return ["--client-id", self.CLIENT_ID, "--client-secret", self.SECRET]

    def app_log(self) -> str:
        try:
            with open(self.stderr_path) as f:
                lines = [ln.strip() for ln in f if ln.strip()]
            return lines[-1][:300] if lines else ""
        except OSError:
            return ""

    def must_start(self, *extra: str, **kw):
        why = self.start_app(*extra, **kw)
        if why:
            raise Fail(f"sesame app did not start: {why}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.p.stop()
        try:
            os.remove(self.stderr_path)
        except OSError:
            pass

    # ------------------------------------------------------------------ the browser
    def login(self, b: Browser | None = None) -> Browser:
        b = b or Browser()
        b.open(self.app, "GET", self.app + "/login")
        return b

    # ------------------------------------------------------------------ decisions
    def signed_in(self, b: Browser, *, userinfo: bool | None = None) -> dict:
        """The suite's pass: the RP is signed in as the provider's user, with its claims."""
        if self.p.log and any(e["method"] == "ERROR" for e in self.p.log):
            raise Fail("provider error: " + next(e["error"] for e in self.p.log if e["method"] == "ERROR"))
        if self.dynamic and not self.p.seen("/register"):
            raise Fail("no registration request (--register)")
        status, me = b.me(self.app)
        if status != 200 or not me:
            raise Fail(f"not signed in: /me {status} (callback {b.callback_status}; app: {self.app_log() or '-'})")
        if me.get("sub") != SUB or me.get("iss") != self.p.issuer:
            raise Fail(f"signed in as {me.get('iss')} {me.get('sub')}, not {self.p.issuer} {SUB}")
        if userinfo is None:
            userinfo = "token" in self.rt.split() or "code" in self.rt.split()
        if userinfo and not self.p.seen("/userinfo"):
            raise Fail("no userinfo request")
        if userinfo or self.rt == "id_token":
            claims = me.get("claims") or {}
            if claims.get("email") != USER["email"] or claims.get("name") != USER["name"]:
                raise Fail(f"the session lacks the userinfo claims (email, name): {sorted(claims)}")
        return me

    def rejected(self, b: Browser) -> str:
        """The suite's REJECT: the fault reached the RP; after it, no token or userinfo request;
        no session; and the callback answers an error page of its own (4xx)."""
        if self.p.fault_seq is None:
            raise Fail(f"runner: the fault never reached the RP (requests: {[e['path'] for e in self.p.log]})")
        after = self.p.requests_after(self.p.fault_seq)
        if after:
            raise Fail(f"{after[0]['path']} requested after the fault ({self.p.fault_where})")
        status, me = b.me(self.app)
        if status != 401:
            raise Fail(f"a session was created: /me {status} (sub {(me or {}).get('sub')!r})")
        if b.callback_status is None or not 400 <= b.callback_status < 500:
            raise Fail(f"the callback answered {b.callback_status}, not a 4xx error page")
        return f"fault in the {self.p.fault_where} (request #{self.p.fault_seq}); callback {b.callback_status}; no session"
