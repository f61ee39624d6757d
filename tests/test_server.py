"""`qa serve --workers 2` for real: a subprocess on a copy of the seed index and a port the
system picks. It answers, a conversation and the rate limit span both workers, and SIGTERM stops
master and workers cleanly. It loads the models once more (in the server), so it is one test."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conftest import REPO, SEED_QUESTION, SEED_SENTENCE_START

START_SECONDS = 180  # loading the models on 2 busy cores
STOP_SECONDS = 60
ANNOUNCED = re.compile(r"serving (\d+) articles at (http://\S+)/ with (\d+) workers")


def request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """GET (or POST `body` as JSON) `url`; the status and the decoded JSON body."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=60
        ) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def children_of(pid: int) -> list[int]:
    """Ids of the live processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)": state, ppid, ...
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_announcement(log: Path, server: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"qa serve exited: {log.read_text()}"
        found = ANNOUNCED.search(log.read_text())
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"qa serve did not announce itself: {log.read_text()}")


def wait_for_workers(master: int, count: int) -> list[int]:
    """The master's worker processes, once there are `count` of them (the master forks them one
    after the other, and a busy machine may answer /healthz from the first before the next)."""
    deadline = time.monotonic() + START_SECONDS
    while (workers := children_of(master)) and len(workers) < count:
        assert time.monotonic() < deadline, f"{len(workers)} workers, expected {count}"
        time.sleep(0.2)
    return workers


def wait_until_healthy(base: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            if request(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{base}/healthz did not answer")


def test_two_workers_answer_share_state_and_stop_cleanly(
    seed_index_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "index"
    shutil.copytree(seed_index_dir, folder)
    output, errors = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_SERVER_RATE_LIMIT": "3/minute"}
    command = [sys.executable, "-m", "qa.cli", "--config", str(REPO / "config.yaml"), "serve"]
    options = ["--index", str(folder), "--port", "0", "--workers", "2", "--threads", "2"]
    with open(output, "wb") as out, open(errors, "wb") as err:
        server = subprocess.Popen([*command, *options], stdout=out, stderr=err, env=environment)
    try:
        announced = wait_for_announcement(output, server)
        assert announced.group(1) == "1" and announced.group(3) == "2"
        base = announced.group(2)
        wait_until_healthy(base)
        workers = wait_for_workers(server.pid, 2)
        assert len(workers) == 2

        status, answer = request(f"{base}/api/ask", {"question": SEED_QUESTION})
        assert status == 200 and answer["answerable"]
        assert answer["citations"][0]["sentence"].startswith(SEED_SENTENCE_START)
        conversation_id = answer["conversation_id"]
        for _ in range(2):  # whichever worker takes the follow-up continues the conversation
            status, follow_up = request(
                f"{base}/api/ask",
                {"question": "why are they leaving?", "conversation_id": conversation_id},
            )
            assert status == 200 and follow_up["conversation_id"] == conversation_id

        # One request a connection, so that no worker keeps clients another could serve.
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") == "close"
        response.read()
        connection.close()

        statuses = [request(f"{base}/api/articles")[0] for _ in range(6)]
        assert statuses.count(200) == 3 and statuses.count(429) == 3, statuses

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=STOP_SECONDS) == 0, errors.read_text()
        assert not any(is_running(pid) for pid in workers)
        log = errors.read_text()
        assert all(f"Closed the index (pid: {pid})" in log for pid in workers), log
        # A worker that crashes on its way out (a native library's state inherited through the
        # fork) is reported by the master as killed by a signal, though the master exits 0.
        assert "was sent SIG" not in log and "terminate called" not in log, log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
