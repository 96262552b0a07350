"""A Flask application for the WSGI tests (served by httpaf.wsgi, the CLI, gunicorn)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request, send_file, stream_with_context

app = Flask(__name__)
app.config["PROPAGATE_EXCEPTIONS"] = True  # errors reach the server, which answers 500

#: What /download sends: 300 KiB of varied bytes, from a file written at import.
DATA = bytes(range(256)) * 1200
DATA_FILE = Path(tempfile.gettempdir()) / f"httpaf-test-download-{len(DATA)}.bin"
if not DATA_FILE.exists() or DATA_FILE.stat().st_size != len(DATA):
    _tmp = DATA_FILE.with_name(f"{DATA_FILE.name}.{os.getpid()}")
    _tmp.write_bytes(DATA)
    os.replace(_tmp, DATA_FILE)  # atomic: other processes never see a partial file

@app.get("/")
def index() -> str:
    return "hello from flask"


@app.get("/json")
def json_route() -> Response:
    return jsonify(ok=True, items=[1, 2, 3], name="flask")


@app.get("/items/<int:item_id>")
def item(item_id: int) -> Response:
    return jsonify(id=item_id, q=request.args.get("q"), tags=request.args.getlist("tag"))


@app.post("/json")
def post_json() -> Response:
    data = request.get_json()
    return jsonify(received=data, type=request.content_type)


@app.post("/form")
def form() -> Response:
    files = {
        name: {"filename": f.filename, "size": len(f.read())} for name, f in request.files.items()
    }
    return jsonify(form=request.form.to_dict(), files=files)


@app.post("/upload")
def upload() -> Response:
    """Read the body as a stream, in pieces, and describe it."""
    digest = hashlib.sha256()
    size = 0
    pieces = 0
    stream = request.stream
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        size += len(piece)
        pieces += 1
    return jsonify(size=size, sha256=digest.hexdigest(), chunked=request.headers.get("Transfer-Encoding"))


@app.get("/stream")
def stream() -> Response:
    count = int(request.args.get("n", "5"))

    def generate():
        for i in range(count):
            yield f"line {i}\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.get("/download")
def download() -> Response:
    return send_file(DATA_FILE, mimetype="application/octet-stream", conditional=False, etag=False)


@app.get("/boom")
def boom() -> str:
    raise RuntimeError("this route always fails")


@app.get("/slow")
def slow() -> str:
    """Touch the ``mark`` file on arrival (tests wait for it), then take ``delay`` s."""
    mark = request.args.get("mark")
    if mark:
        Path(mark).touch()
    time.sleep(float(request.args.get("delay", "1")))
    return "slow done"


@app.get("/pid")
def pid() -> Response:
    return jsonify(pid=os.getpid())


@app.get("/environ")
def environ() -> Response:
    keys = [
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
        "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "wsgi.url_scheme", "HTTP_X_TEST",
        "wsgi.multithread", "wsgi.multiprocess",
    ]
    return jsonify({k: request.environ.get(k) for k in keys})


def create_app() -> Flask:
    """The application, for ``--factory``."""
    return app
