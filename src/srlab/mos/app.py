"""The rating web app (Flask; served by waitress, see :func:`serve`).

Rater flow: ``/`` asks for a name (a returning name resumes), a cookie then identifies the
rater; ``/rate`` shows the next image of the rater's own random order with ``k / n`` progress,
the score buttons and, when the study has references, an HR toggle; ``POST /vote`` records the
score and redirects back (post/redirect/get, so a refresh does not re-post; a re-post is
harmless anyway: votes are unique per rater and image).

Security: images are served only by their integer id, looked up in the study database
(``/image/<id>``, ``/reference/<id>``); no part of a URL is ever joined to a file-system path.
A score outside the scale, a forged or unknown image id, or a vote without a rater cookie is
refused with 400 (401 for the missing rater).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for

from .db import Rater, Study, VoteError

__all__ = ["create_app", "serve"]

COOKIE = "srlab_mos_rater"


def create_app(study_path: str | os.PathLike) -> Flask:
    """The Flask app of one study database (opened per request: one SQLite connection each)."""
    study_path = Path(study_path)
    Study(study_path).close()  # fail early on a missing or foreign database
    app = Flask(__name__)
    app.config["STUDY_PATH"] = study_path
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

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
        return study().rater_by_token(request.cookies.get(COOKIE))

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    @app.get("/")
    def index():
        if current_rater() is not None:
            return redirect(url_for("rate"), code=303)
        s = study()
        return render_template(
            "index.html", n=s.num_images(), lo=s.scale_min, hi=s.scale_max, error=None
        )

    @app.post("/start")
    def start():
        s = study()
        try:
            rater = s.get_or_create_rater(request.form.get("name", ""))
        except VoteError as e:
            html = render_template(
                "index.html", n=s.num_images(), lo=s.scale_min, hi=s.scale_max, error=str(e)
            )
            return html, 400
        resp = redirect(url_for("rate"), code=303)
        resp.set_cookie(COOKIE, rater.token, max_age=180 * 24 * 3600, httponly=True, samesite="Lax")
        return resp

    @app.get("/logout")
    def logout():
        resp = redirect(url_for("index"), code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.get("/rate")
    def rate():
        rater = current_rater()
        if rater is None:
            return redirect(url_for("index"), code=303)
        s = study()
        done, total = s.progress(rater)
        image_id = s.next_image(rater)
        if image_id is None:
            return render_template("done.html", name=rater.name, total=total)
        return render_template(
            "rate.html",
            name=rater.name,
            image_id=image_id,
            k=done + 1,
            n=total,
            scores=list(range(s.scale_min, s.scale_max + 1)),
            has_ref=s.reference_file(image_id) is not None,
        )

    @app.post("/vote")
    def vote():
        rater = current_rater()
        if rater is None:
            return "no rater: enter your name first", 401
        try:
            new = study().vote(
                rater, request.form.get("image_id", ""), request.form.get("score", "")
            )
        except VoteError as e:
            return f"vote refused: {e}", 400
        if request.headers.get("Accept", "").startswith("application/json"):
            return {"ok": True, "new": new}
        return redirect(url_for("rate"), code=303)

    def _send(path: Path | None) -> Response:
        if path is None or not path.is_file():
            abort(404)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # the bytes only: no file name or path goes back to the rater
        resp = Response(path.read_bytes(), mimetype=mime)
        resp.headers["Cache-Control"] = "private, max-age=3600"
        return resp

    @app.get("/image/<int:image_id>")
    def image(image_id: int):
        return _send(study().image_file(image_id))

    @app.get("/reference/<int:image_id>")
    def reference(image_id: int):
        return _send(study().reference_file(image_id))

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app


def serve(
    study_path: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000, threads: int = 8
) -> None:
    """Serve the study with waitress (a production WSGI server, pure Python) until interrupted."""
    from waitress import serve as waitress_serve

    app = create_app(study_path)
    print(
        f"MOS study {study_path}: http://{host}:{port}/  (Ctrl+C stops; votes are saved as given)"
    )
    waitress_serve(app, host=host, port=port, threads=threads)
