"""``ponder ui``: the command line it hands to Streamlit, where it listens, what it warns."""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponder.cli.ui_cmd import exposure_warning, is_loopback, streamlit_command

PONDER = [sys.executable, "-c", "from ponder.cli import main; main()"]


def test_the_streamlit_command_runs_the_packaged_app_headless_on_loopback() -> None:
    import ponder.ui

    app = Path(ponder.ui.__file__).with_name("app.py")
    command = streamlit_command(app, port=8765, headless=True, config=Path("my.toml"))
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(app)] and app.is_file()
    flags = dict(zip(command[5:-3:2], command[6:-3:2], strict=True))
    assert flags["--server.port"] == "8765" and flags["--server.headless"] == "true"
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--client.toolbarMode"] == "viewer"  # no Deploy button, no developer menu
    assert flags["--browser.gatherUsageStats"] == "false"
    assert command[-3:] == ["--", "--config", "my.toml"]
    assert "--" not in streamlit_command(app, port=1, headless=False)
    chosen = streamlit_command(app, port=1, headless=True, address="0.0.0.0")
    assert chosen[chosen.index("--server.address") + 1] == "0.0.0.0"


def test_ui_help_names_its_options() -> None:
    done = subprocess.run([*PONDER, "ui", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--store", "--port", "--address", "--config", "--headless"):
        assert option in done.stdout


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_addresses_need_no_warning(address: str) -> None:
    assert is_loopback(address) and exposure_warning(address, 8501) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.168.1.20", "myhost.example"])
def test_other_addresses_are_warned_about(address: str) -> None:
    warning = exposure_warning(address, 8501)
    assert warning is not None and "no login" in warning and "127.0.0.1" in warning


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses with a TCP socket listening on ``port``, read from /proc/net."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(ipaddress.ip_address(raw))
    return found


def start_ui(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PONDER_STORE"}
    server = subprocess.Popen([*PONDER, "ui", "--store", str(tmp_path / "s.db"), "--port",
                               str(port), "--headless", *extra], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True)
    return server, port


def stop(server: subprocess.Popen[str]) -> str:
    server.terminate()
    try:
        _, err = server.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        _, err = server.communicate()
    return err


def test_the_ui_listens_on_loopback_only_by_default(tmp_path: Path) -> None:
    server, port = start_ui(tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not listening(port) and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.3)
        addresses = listening(port)
    finally:
        err = stop(server)
    assert addresses and all(a.is_loopback for a in addresses), (addresses, err)
    assert "warning" not in err and f"http://localhost:{port}" in err


def test_binding_beyond_loopback_prints_a_warning_first(tmp_path: Path) -> None:
    server, port = start_ui(tmp_path, "--address", "0.0.0.0")
    assert server.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:  # the warning is written before Streamlit starts; other lines may come first
        while time.monotonic() < deadline and not any("warning:" in ln for ln in lines):
            ready, _, _ = select.select([server.stderr], [], [], 1)
            if ready:
                line = server.stderr.readline()
                if not line:
                    break
                lines.append(line)
    finally:
        stop(server)
    assert any(f"http://0.0.0.0:{port}" in line for line in lines), lines
    warning = next(line for line in lines if line.startswith("warning:"))
    assert warning.startswith("warning: the UI listens on 0.0.0.0") and "no login" in warning


def test_the_host_check_allows_the_ui_names_and_ip_literals_only() -> None:
    from ponder.cli.ui_cmd import HOSTS_ENV, allowed_names
    from ponder.ui import guard

    assert HOSTS_ENV == guard.HOSTS_ENV
    for host in ("localhost:8501", "LOCALHOST", "app.localhost:1", "127.0.0.1:8501", "[::1]:8501",
                 "10.0.0.5", "ui.example:8501", "ui.example.:8501"):
        assert guard.host_is_allowed(host, {"ui.example"}), host
    for host in ("evil.example:8501", "127.0.0.1.evil.example", "localhost.evil.example", "",
                 None, "ui.example.evil:8501"):
        assert not guard.host_is_allowed(host, {"ui.example"}), host
    assert allowed_names("myhost.lan", ["UI.Example"]) == ["myhost.lan", "ui.example"]
    assert allowed_names("0.0.0.0", []) == []
    assert guard.allowed_hosts({HOSTS_ENV: "a.example, B.example."}) == {"a.example", "b.example"}


def request(port: int, host: str, path: str = "/", headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request to the UI with ``Host: host``: status, headers, body."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": host, **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def websocket_handshake(port: int, host: str) -> int:
    """The status Streamlit's websocket answers a browser's upgrade request with."""
    import base64

    key = base64.b64encode(os.urandom(16)).decode()
    status, _, _ = request(port, host, "/_stcore/stream", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13", "Origin": f"http://{host}",
        "Sec-WebSocket-Protocol": "streamlit"})
    return status


def wait_until_serving(server: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if request(port, f"localhost:{port}", "/_stcore/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the UI did not start: {stop(server)}")


def test_every_response_refuses_framing_and_foreign_hosts_are_refused(tmp_path: Path) -> None:
    server, port = start_ui(tmp_path, "--allow-host", "ponder.test")
    try:
        wait_until_serving(server, port)
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"ponder.test:{port}"):
            for path in ("/", "/runs", "/_stcore/health", "/_stcore/host-config", "/no-such-page"):
                status, headers, _ = request(port, host, path)
                assert status in (200, 404), (host, path, status)
                assert headers.get("x-frame-options") == "DENY", (host, path, headers)
                assert headers.get("content-security-policy") == "frame-ancestors 'none'", headers
        assert websocket_handshake(port, f"localhost:{port}") == 101
        for host in (f"evil.example:{port}", f"127.0.0.1.nip.example:{port}"):  # DNS rebinding
            status, headers, body = request(port, host, "/")
            assert status == 403 and b"--allow-host" in body, (status, body)
            assert headers.get("x-frame-options") == "DENY"
            assert request(port, host, "/_stcore/health")[0] == 403
            assert websocket_handshake(port, host) == 403
    finally:
        stop(server)


def test_xsrf_protection_and_cors_are_pinned_on(tmp_path: Path) -> None:
    import ponder.ui

    command = streamlit_command(Path(ponder.ui.__file__).with_name("app.py"), port=1, headless=True)
    flags = dict(zip(command[5::2], command[6::2]))
    assert flags["--server.enableXsrfProtection"] == "true"
    assert flags["--server.enableCORS"] == "true"
