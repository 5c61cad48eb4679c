"""Helpers shared by the Python peers of interop/run.sh.

Forms: the POST forms of an HTML page (action, hidden/text fields, submit
buttons). Browser: a cookie-keeping requests.Session that follows redirects
itself, stops at a URL prefix and keeps a trace of every request. Steps:
prints one "PASS peer: flow" / "FAIL peer: flow: why" line per step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html.parser
import re
import struct
import sys
import time
import traceback
from urllib.parse import urljoin, urlparse

import requests


class Forms(html.parser.HTMLParser):
    """The POST forms of a page: action, hidden/text fields, submit buttons."""

    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[dict] = []
        self._cur: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._cur = {
                "action": urljoin(self.base, a.get("action") or self.base),
                "method": (a.get("method") or "get").lower(),
                "fields": {},
                "buttons": {},
            }
            self.forms.append(self._cur)
        elif tag in ("input", "button") and self._cur is not None and a.get("name"):
            kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            if kind == "submit":
                self._cur["buttons"][a["name"]] = a.get("value") or ""
            else:
                self._cur["fields"].setdefault(a["name"], a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None


def forms(resp: requests.Response) -> list[dict]:
    p = Forms(resp.url)
    p.feed(resp.text)
    return [f for f in p.forms if f["method"] == "post"]


class Browser:
    """requests.Session without automatic redirects, stopping at a URL prefix."""

    def __init__(self):
        self.s = requests.Session()
        self.trace: list[str] = []

    def _log(self, r: requests.Response):
        loc = r.headers.get("location")
        self.trace.append(redact(f"{r.request.method} {r.url} -> {r.status_code}{' ' + loc if loc else ''}"))

    def follow(self, r: requests.Response, stop_at: str | None):
        """Follows redirects of `r`; returns (response, stopped_at_location or None)."""
        self._log(r)
        for _ in range(15):
            loc = r.headers.get("location")
            if not (300 <= r.status_code < 400 and loc):
                return r, None
            loc = urljoin(r.url, loc)
            if stop_at and loc.startswith(stop_at):
                return r, loc
            r = self.s.get(loc, allow_redirects=False, timeout=10)
            self._log(r)
        raise RuntimeError(f"too many redirects at {r.url}")

    def get(self, url: str, stop_at: str | None = None):
        return self.follow(self.s.get(url, allow_redirects=False, timeout=10), stop_at)

    def submit(self, page: requests.Response, pick, values=None, button=None, stop_at=None):
        candidates = [f for f in forms(page) if pick(f)]
        if not candidates:
            raise AssertionError(f"no matching form on {page.url} ({page.status_code}):\n{page.text[:800]}")
        f = candidates[0]
        data = dict(f["fields"])
        data.update(values or {})
        if button:
            data[button] = f["buttons"][button]
        return self.follow(self.s.post(f["action"], data=data, allow_redirects=False, timeout=10), stop_at)

    def sign_in(self, r: requests.Response, stopped, username: str, password: str, stop_at=None,
                totp_secret: str | None = None):
        """At Sesame's login page (`r`, from get/follow): submits the password,
        then the TOTP code if `totp_secret` is given (the code page must come),
        then Allow on the consent page if one is shown."""
        check(stopped is None and urlparse(r.url).path == "/login", f"expected the login page, got {r.status_code} {r.url}")
        r, stopped = self.submit(
            r,
            lambda f: {"username", "password", "csrf_token"} <= f["fields"].keys(),
            {"username": username, "password": password},
            stop_at=stop_at,
        )
        if totp_secret is not None:
            check(stopped is None and any("totp" in f["fields"] for f in forms(r)),
                  f"expected the TOTP code page after the password, got {r.status_code} {r.url}")
            r, stopped = self.submit(r, lambda f: "totp" in f["fields"], {"totp": totp_code(totp_secret)},
                                     stop_at=stop_at)
        if stopped is None and is_consent(r):
            r, stopped = self.submit(r, lambda f: "interaction" in f["fields"], button="allow", stop_at=stop_at)
        return r, stopped


def totp_code(secret_b32: str, now: float | None = None) -> str:
    """The RFC 6238 code (SHA-1, 6 digits, 30 s) an authenticator app shows for `secret_b32`."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if now is None else now) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def redact(line: str) -> str:
    """A trace line without the codes and tokens it carries in query strings."""
    return re.sub(r"\b(code|id_token_hint|id_token|access_token|refresh_token)=[^&\s]+", r"\1=…", line)


def is_consent(r: requests.Response) -> bool:
    """Whether `r` is Sesame's consent page."""
    return r.status_code == 200 and any("interaction" in f["fields"] and "allow" in f["buttons"] for f in forms(r))


class Steps:
    """Runs the flows of one peer. chain=True: a flow after a failed one is not
    run (it would need the failed one's tokens); chain=False: each flow stands alone."""

    def __init__(self, peer: str, chain: bool = True):
        self.peer = peer
        self.chain = chain
        self.failed = False

    def run(self, flow: str, fn):
        if self.failed and self.chain:
            print(f"FAIL {self.peer}: {flow} (not run: an earlier step failed)", flush=True)
            return None
        try:
            out = fn()
            print(f"PASS {self.peer}: {flow}", flush=True)
            return out
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.failed = True
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"FAIL {self.peer}: {flow}: {first}", flush=True)
            traceback.print_exc()
            return None


    def exit_code(self, trace: list[str]) -> int:
        """1 (with the request trace on stderr) if a flow failed, else 0."""
        if self.failed:
            print("--- requests ---\n" + "\n".join(trace), file=sys.stderr)
            return 1
        return 0


def check(cond, message):
    if not cond:
        raise AssertionError(message)
