"""The rating web app (Flask; served by waitress, see :func:`serve`).

Rater flow: ``/`` asks for the invitation code the study owner handed out (``srlab-mos
invite``); a session cookie then identifies the rater. ``/rate`` shows the item at the rater's
current position (``k / n`` progress, score buttons, an HR toggle when the study has
references); ``POST /vote`` records the score and redirects back (post/redirect/get). ``POST
/logout`` revokes the session.

Security:

- Identity: a rater is whoever holds an invitation code (100 random bits, stored hashed); a
  name is never accepted as identity. Sessions are random tokens stored hashed, revoked at
  logout or when the owner revokes the rater.
- Every POST needs a CSRF token (an HMAC of the session or of a pre-session cookie with the
  study's secret) and, when the browser sends one, an ``Origin`` of this very server;
  ``Sec-Fetch-Site: cross-site`` is refused. Cookies are ``HttpOnly; SameSite=Strict``. The
  ``Host`` header must be an IP address, ``localhost`` or a name the owner allowed (no DNS
  rebinding).
- Error pages are fixed texts per status: nothing of the request is echoed back. Templates
  auto-escape; a per-response CSP nonce allows only the page's own inline script.
- Images are served only as ``/image/<position>`` of the signed-in rater, up to the position
  being shown, as the PNG re-encoded at ``create`` (one format, no metadata, same headers); no
  part of a URL is joined to a file-system path.
- Bodies over 64 KiB are refused from the ``Content-Length`` header before any byte is read
  (waitress ``max_request_body_size``; Flask ``MAX_CONTENT_LENGTH`` behind other servers);
  idle connections are closed after ``channel_timeout`` and up to ``connection_limit``
  connections are accepted, so idle sockets cannot lock out ``/healthz``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import resource
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from .db import Rater, Study, VoteError

__all__ = ["WAITRESS_SETTINGS", "create_app", "make_server", "serve"]

COOKIE = "srlab_mos_session"
PRE_COOKIE = "srlab_mos_pre"
MAX_BODY = 64 * 1024

ERRORS = {
    400: "The request was refused.",
    401: "Please sign in with your invitation code first.",
    403: "The request was refused (the form may have expired: reload the page and try again).",
    404: "Not found.",
    405: "Method not allowed.",
    409: "This image has not been shown to you yet.",
    413: "The request is too large.",
    500: "Internal error; your earlier votes are saved.",
}


def _waitress_settings() -> dict[str, Any]:
    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ValueError, OSError):  # pragma: no cover
        soft = 1024
    limit = 1000 if soft == resource.RLIM_INFINITY else max(50, min(1000, soft - 100))
    return {
        "max_request_body_size": MAX_BODY,  # 413 from Content-Length, before reading the body
        "max_request_header_size": 16 * 1024,
        "connection_limit": limit,  # waitress's default, 100, lets 110 idle sockets lock it
        "channel_timeout": 15,  # idle (or half-sent) connections closed after 15 s
        "cleanup_interval": 2,
        "asyncore_use_poll": True,  # select() fails beyond 1024 descriptors
        "ident": "srlab-mos",
    }


WAITRESS_SETTINGS = _waitress_settings()


def _host_ok(host: str, allowed: frozenset[str]) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if name in allowed or name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def create_app(study_path: str | os.PathLike[str], allowed_hosts: list[str] | None = None) -> Flask:
    """The Flask app of one study database (opened per request: one SQLite connection each).

    ``allowed_hosts``: host names (besides IP addresses and ``localhost``) raters may use in
    the URL; any other ``Host`` header is refused (DNS rebinding).
    """
    study_path = Path(study_path)
    with Study(study_path) as s:  # fail early on a missing or foreign database
        secret = s.secret
    allowed = frozenset(h.lower() for h in (allowed_hosts or ()))
    app = Flask(__name__)
    app.config["STUDY_PATH"] = study_path
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY

    def study() -> Study:
        if "study" not in g:
            g.study = Study(study_path)
        return g.study

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        s = g.pop("study", None)
        if s is not None:
            s.close()

    def current_rater() -> Rater | None:
        if "rater" not in g:
            g.rater = study().rater_by_token(request.cookies.get(COOKIE))
        return g.rater

    def csrf_token(binding: str) -> str:
        return hmac.new(secret, b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()

    def session_csrf() -> str:
        return csrf_token("s:" + request.cookies.get(COOKIE, ""))

    @app.before_request
    def _guard() -> None:
        g.nonce = secrets.token_urlsafe(16)
        if not _host_ok(request.host, allowed):
            abort(400)
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            if (
                origin is not None
                and origin.lower() != f"{request.scheme}://{request.host}".lower()
            ):
                abort(403)
            if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                abort(403)
            if request.content_length is not None and request.content_length > MAX_BODY:
                abort(413)
            if request.endpoint == "start":
                expected = csrf_token("p:" + request.cookies.get(PRE_COOKIE, ""))
                if not request.cookies.get(PRE_COOKIE):
                    abort(403)
            else:
                expected = session_csrf()
            if not hmac.compare_digest(request.form.get("csrf", ""), expected):
                abort(403)

    @app.after_request
    def _headers(resp: Response) -> Response:
        nonce = g.get("nonce", "")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"  # no-referrer makes Origin "null"
        resp.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        resp.headers["Content-Security-Policy"] = (
            f"default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; "
            f"script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'"
        )
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> ResponseReturnValue:
        code = e.code or 500
        return error_page(ERRORS.get(code, ERRORS[400]), code)

    @app.errorhandler(Exception)
    def _internal(e: Exception) -> ResponseReturnValue:
        app.logger.exception("unexpected error")
        return error_page(ERRORS[500], 500)

    def error_page(message: str, code: int) -> ResponseReturnValue:
        return render_template("error.html", message=message, code=code), code

    def set_cookie(resp: BaseResponse, name: str, value: str, max_age: int) -> None:
        resp.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="Strict",
            path="/",
            secure=request.scheme == "https",
        )

    def index_page(error: str | None, code: int = 200) -> Response:
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
        s = study()
        prefill = request.args.get("code", "")
        html = render_template(
            "index.html",
            lo=s.scale_min,
            hi=s.scale_max,
            error=error,
            csrf=csrf_token("p:" + pre),
            prefill=prefill if len(prefill) < 40 and prefill.replace("-", "").isalnum() else "",
        )
        resp = Response(html, status=code)
        set_cookie(resp, PRE_COOKIE, pre, 3600 * 12)
        return resp

    @app.get("/")
    def index() -> ResponseReturnValue:
        if current_rater() is not None:
            return redirect(url_for("rate"), code=303)
        return index_page(None)

    @app.post("/start")
    def start() -> ResponseReturnValue:
        s = study()
        rater = s.rater_by_code(request.form.get("code", ""))
        if rater is None:
            return index_page("This invitation code is not valid.", 403)
        old = request.cookies.get(COOKIE)
        if old:
            s.close_session(old)
        resp = redirect(url_for("rate"), code=303)
        set_cookie(resp, COOKIE, s.open_session(rater), 180 * 24 * 3600)
        resp.delete_cookie(PRE_COOKIE, path="/")
        return resp

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        study().close_session(request.cookies.get(COOKIE))
        resp = redirect(url_for("index"), code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/rate")
    def rate() -> ResponseReturnValue:
        rater = current_rater()
        if rater is None:
            return redirect(url_for("index"), code=303)
        s = study()
        done, total = s.progress(rater)
        pos = s.next_position(rater)
        if pos is None:
            return render_template("done.html", name=rater.name, total=total, csrf=session_csrf())
        return render_template(
            "rate.html",
            name=rater.name,
            pos=pos,
            k=done + 1,
            n=total,
            scores=list(range(s.scale_min, s.scale_max + 1)),
            has_ref=s.has_references(),
            csrf=session_csrf(),
        )

    @app.post("/vote")
    def vote() -> ResponseReturnValue:
        rater = current_rater()
        if rater is None:
            abort(401)
        try:
            new = study().vote(rater, request.form.get("pos", ""), request.form.get("score", ""))
        except VoteError as e:
            return error_page(f"Vote refused: {e}.", e.status)
        if request.headers.get("Accept", "").startswith("application/json"):
            return {"ok": True, "new": new}
        return redirect(url_for("rate"), code=303)

    def send_png(pos: int, reference: bool) -> Response:
        rater = current_rater()
        if rater is None:
            abort(401)
        png = study().item_png(rater, pos, reference=reference)
        if png is None:
            abort(404)
        # every image: the same type and headers; no name, date or tag that could tell them apart
        return Response(png, mimetype="image/png")

    @app.get("/image/<int:pos>")
    def image(pos: int) -> ResponseReturnValue:
        return send_png(pos, reference=False)

    @app.get("/reference/<int:pos>")
    def reference(pos: int) -> ResponseReturnValue:
        return send_png(pos, reference=True)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return "ok"

    return app


def make_server(
    study_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 8,
    allowed_hosts: list[str] | None = None,
    **overrides: Any,
) -> Any:
    """A waitress server of the app with :data:`WAITRESS_SETTINGS` (``overrides`` win)."""
    from waitress import create_server

    settings = {**WAITRESS_SETTINGS, **overrides}
    app = create_app(study_path, allowed_hosts=allowed_hosts)
    return create_server(app, host=host, port=port, threads=threads, **settings)


def serve(
    study_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 8,
    allowed_hosts: list[str] | None = None,
) -> None:
    """Serve the study with waitress (a production WSGI server, pure Python) until interrupted."""
    server = make_server(study_path, host, port, threads, allowed_hosts)
    print(
        f"MOS study {study_path}: http://{host}:{port}/  (Ctrl+C stops; votes are saved as given)",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
