"""The runner's browser: a cookie-keeping requests.Session that follows redirects, submits
form_post pages, and loads the iframes of a front-channel logout page, as a browser would.

A browser never sends a URL's fragment to a server: a redirect to `…#…` is followed without it.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import requests

from interop_browser import forms

IFRAME = re.compile(r'<iframe[^>]*\bsrc="([^"]+)"', re.I)
CONTINUE = re.compile(r'<a[^>]*\bid="continue"[^>]*\bhref="([^"]+)"', re.I)


class Browser:
    def __init__(self):
        self.s = requests.Session()
        self.trace: list[str] = []
        self.frames: list[requests.Response] = []
        self.callback_status: int | None = None

    def _log(self, r: requests.Response):
        loc = r.headers.get("location")
        self.trace.append(f"{r.request.method} {r.url.split('?')[0]} -> {r.status_code}{' ' + loc.split('?')[0] if loc else ''}")
        if "/callback" in r.url and r.url.startswith(self.app):
            self.callback_status = r.status_code

    def open(self, app: str, method: str, url: str, data=None) -> requests.Response:
        """Requests `url` and follows what a browser follows; returns the last response."""
        self.app = app
        r = self.s.request(method, url, data=data, allow_redirects=False, timeout=20)
        for _ in range(25):
            self._log(r)
            loc = r.headers.get("location")
            if 300 <= r.status_code < 400 and loc:
                r = self.s.get(urljoin(r.url, loc).split("#")[0], allow_redirects=False, timeout=20)
                continue
            body = r.text if "html" in r.headers.get("content-type", "") else ""
            if r.status_code == 200 and "document.forms[0].submit()" in body:
                f = forms(r)[0]
                r = self.s.post(f["action"], data=f["fields"], allow_redirects=False, timeout=20)
                continue
            cont = CONTINUE.search(body)
            if r.status_code == 200 and cont:
                for src in IFRAME.findall(body):
                    fr = self.s.get(urljoin(r.url, html.unescape(src)), allow_redirects=False, timeout=20)
                    self._log(fr)
                    self.frames.append(fr)
                r = self.s.get(urljoin(r.url, html.unescape(cont.group(1))), allow_redirects=False, timeout=20)
                continue
            return r
        raise RuntimeError(f"too many redirects at {r.url}")

    def me(self, app: str) -> tuple[int, dict | None]:
        r = self.s.get(app + "/me", allow_redirects=False, timeout=20)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None

    def logout(self, app: str) -> requests.Response:
        """Submits the home page's logout form (POST /logout with its CSRF token)."""
        home = self.s.get(app + "/", allow_redirects=False, timeout=20)
        fs = [f for f in forms(home) if f["action"].rstrip("/").endswith("/logout")]
        if not fs:
            raise AssertionError(f"no logout form on the home page ({home.status_code})")
        return self.open(app, "POST", fs[0]["action"], data=fs[0]["fields"])
