"""The package as pip installs it (pyproject.toml): a wheel built from this checkout holds every
module and the chat page, and installed in a fresh virtual environment it serves the page from
inside itself; the extras the code names exist.

The virtual environment sees the packages of the environment that runs the tests (as
`--system-site-packages` would the base interpreter's), so nothing is downloaded: only the wheel
is installed into it, and its `qa` must win over the checkout's (an editable install of which
may be among those packages).
"""

from __future__ import annotations

import json
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

# What setuptools reads to build the wheel; the rest of the checkout is not shipped.
SOURCES = ("pyproject.toml", "README.md", "qa", "web")
STEP_SECONDS = 240  # each of build, install and start, on 2 busy cores

# Run by the virtual environment's Python: the app on an empty index folder (argv[1]), with
# the tests' fake embedder (from argv[2], searched after the installed packages), served on a
# port the system picks; prints where qa and the page were found and the address, then serves
# until its standard input closes.
SERVE = """
import json, sys, threading
from pathlib import Path
sys.path.append(sys.argv[2])
from werkzeug.serving import make_server
import qa
from fakes import HashEmbedder
from qa.config import Settings
from qa.service.app import create_app
from qa.wiring import open_components

components = open_components(
    Settings(), embedder=HashEmbedder(), create=True, index_dir=Path(sys.argv[1])
)
app = create_app(components)
server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
found = {"qa": qa.__file__, "page": app.static_folder, "url": f"http://127.0.0.1:{server.port}"}
print(json.dumps(found), flush=True)
sys.stdin.read()
server.shutdown()
components.close()
"""


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built without build isolation (offline) from a copy of the checkout, so that
    the build leaves nothing in the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*built, "-w", str(work), str(source)], check=True, timeout=STEP_SECONDS)
    [found] = work.glob("qa-*.whl")
    return found


def test_the_wheel_holds_every_module_the_models_and_the_page(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(path.relative_to(REPO)) for path in (REPO / "qa").rglob("*.py")}
    assert modules - names == set()  # a subpackage missing from pyproject's list would show
    page = {f"qa/{path.relative_to(REPO)}" for path in (REPO / "web").rglob("*") if path.is_file()}
    assert {"qa/web/index.html", "qa/web/app.js", "qa/web/style.css"} <= page <= names
    models = {
        f"qa/models/{name}"
        for name in ("reader.safetensors", "reader.json", "ranker.json", "common-words.txt")
    }
    assert models <= names
    assert not any(name.startswith(("training/", "tests/", "web/")) for name in names)


def test_an_installed_wheel_serves_the_page_from_the_package(wheel: Path, tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", environment],
        check=True,
        timeout=STEP_SECONDS,
    )
    python = environment / "bin" / "python"
    # After its own site-packages, the environment adds those of the Python running the tests.
    own = sysconfig.get_path("purelib", vars={"base": str(environment)})
    (Path(own) / "tests-site-packages.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages())
    )
    # That Python's pip, run by the environment's, installs into the environment;
    # --ignore-installed: qa may be among those packages already (an editable install).
    install = ["-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps"]
    subprocess.run(
        [python, *install, "--no-index", "--ignore-installed", wheel],
        check=True,
        timeout=STEP_SECONDS,
    )
    assert (environment / "bin" / "qa").is_file()  # the console script
    # -I: neither the working folder nor PYTHONPATH may put the checkout's qa first.
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        server = subprocess.Popen(
            [python, "-I", "-c", SERVE, str(tmp_path / "index"), str(REPO / "tests")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=tmp_path,
            text=True,
        )
    try:
        line = server.stdout.readline() if server.stdout else ""
        assert line, errors.read_text()
        found = json.loads(line)
        qa_file = Path(found["qa"]).resolve()
        assert qa_file.is_relative_to(environment.resolve()), found  # not the checkout's qa
        assert Path(found["page"]) == Path(found["qa"]).parent / "web"
        status, page = get(found["url"] + "/")
        assert status == 200 and page == (REPO / "web" / "index.html").read_bytes()
        script = re.search(rb'<script src="([^"]+)"', page)
        assert script is not None
        status, body = get(found["url"] + script.group(1).decode())
        assert status == 200 and body == (REPO / "web" / "app.js").read_bytes()
    finally:
        server.communicate(timeout=STEP_SECONDS)  # closes its standard input: it stops
    assert server.returncode == 0, errors.read_text()


def test_the_extras_the_code_names_are_declared() -> None:
    """Each missing-extra message (qa.extras.install_hint) names an extra of pyproject.toml, none
    of them is a default dependency, and `dev` brings every extra, as the tests cover them all."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    hint = re.compile(r"install_hint\([\"'](\w+)[\"']\)")
    named = {
        name for path in (REPO / "qa").rglob("*.py") for name in hint.findall(path.read_text())
    }
    assert named == {"postgres", "milvus", "openvino"} and named <= set(extras)
    [itself] = [requirement for requirement in extras["dev"] if requirement.startswith("qa[")]
    assert set(itself.removeprefix("qa[").removesuffix("]").split(",")) == set(extras) - {"dev"}
    defaults = {re.split(r"[\[<>=]", requirement)[0] for requirement in project["dependencies"]}
    assert not defaults & {"psycopg", "pymilvus", "milvus-lite", "openvino"}
