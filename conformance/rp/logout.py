"""The logout plans' modules: RP-initiated, back-channel and front-channel.

Two browsers sign in at the same provider session (one `sid`): A logs out at the RP (RP-initiated
logout), and the provider's logout message (a back-channel logout token, or the front-channel
iframe A's browser loads) names that `sid`, so it must end B's session too; a refused
logout token must leave B signed in.
"""

from __future__ import annotations

import requests

from browser import Browser
from harness import Env, Fail, Run
from modules import Variant, run

SIGNED_OUT = "You have been signed out"


def end_session(r: Run) -> dict:
    es = [e for e in r.p.seen("/end_session") if "end_session" in e]
    if not es:
        raise Fail("no request to end_session_endpoint")
    e = es[-1]
    if not e.get("hint_ok"):
        raise Fail("end_session without the ID token (id_token_hint) the provider issued")
    return e["end_session"]


def rp_init(fault=None):
    def module(env: Env, v: Variant):
        def go(r: Run):
            r.must_start(*v.app_args)
            b = r.login()
            r.signed_in(b)
            page = b.logout(r.app)
            params = end_session(r)
            if not params.get("state"):
                raise Fail("no state sent to end_session_endpoint")
            if b.me(r.app)[0] != 401:
                raise Fail("still signed in after logout")
            if page.status_code != 200:
                raise Fail(f"the post-logout redirect URI answered {page.status_code}")
            shown = SIGNED_OUT in page.text
            if fault is None:
                if not shown:
                    raise Fail("the provider returned the logout's state, but the app did not confirm the logout")
                return "state sent and checked on return; signed out"
            if shown:
                raise Fail(f"the app confirmed a logout returned with {'no' if fault == 'logout_no_state' else 'another'} state")
            return f"state sent; the return with {'no' if fault == 'logout_no_state' else 'another'} state is not taken as ours, the session is gone"
        return run(env, v, go, [fault] if fault else [])
    return module


def backchannel(fault=None):
    def module(env: Env, v: Variant):
        def go(r: Run):
            r.must_start(*v.app_args)
            a = r.login()
            r.signed_in(a)
            b = r.login(Browser())
            r.signed_in(b)
            a.logout(r.app)
            end_session(r)
            if not r.p.logout_results:
                raise Fail("runner: no logout token was sent")
            got = r.p.logout_results[-1]
            status_b = b.me(r.app)[0]
            if fault is None:
                if got["status"] != 200:
                    raise Fail(f"a valid logout token was answered {got['status']} {got['body'][:100]}")
                if status_b != 401:
                    raise Fail("the valid logout token did not end the other session with its sid")
                return "valid logout token → 200; the sid's sessions ended"
            if got["status"] != 400:
                raise Fail(f"an invalid logout token ({fault}) was answered {got['status']}, not 400")
            if status_b != 200:
                raise Fail(f"an invalid logout token ({fault}) ended a session")
            return f"invalid logout token ({fault.removeprefix('bcl_')}) → 400; the other session stays"
        return run(env, v, go, [fault] if fault else [], backchannel=True)
    return module


def frontchannel(env: Env, v: Variant):
    def go(r: Run):
        r.must_start(*v.app_args)
        probe = r.login()
        r.signed_in(probe)
        if requests.get(r.app + "/frontchannel-logout", timeout=10).status_code == 404:
            raise Fail("needs front-channel logout (an iframe-able /frontchannel-logout in sesame app)")
        b = r.login(Browser())
        r.signed_in(b)
        page = probe.logout(r.app)
        end_session(r)
        if not probe.frames:
            raise Fail("runner: the front-channel logout page was not loaded")
        fr = probe.frames[-1]
        if fr.status_code != 200:
            raise Fail(f"the front-channel logout URI answered {fr.status_code}")
        xfo = fr.headers.get("x-frame-options", "")
        csp = fr.headers.get("content-security-policy", "")
        if xfo or "frame-ancestors 'none'" in csp:
            raise Fail(f"the front-channel logout URI cannot be framed (X-Frame-Options {xfo!r}, CSP {csp!r})")
        if b.me(r.app)[0] != 401:
            raise Fail("the front-channel logout (iss, sid) did not end the other session with that sid")
        if page.status_code != 200:
            raise Fail(f"the post-logout redirect URI answered {page.status_code}")
        return "front-channel logout page framed, the sid's sessions ended, post-logout redirect handled"
    return run(env, v, go, frontchannel=True)
