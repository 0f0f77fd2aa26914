"""GITHUB_TOKEN, with recording servers on 127.0.0.1: it reaches the GitHub API over https
(a TLS server with a certificate made here and trusted through SSL_CERT_FILE) and nothing
else: not a download host, not a host the API redirects to, not an API reached over plain
http, not a `--handshake` probe's environment; and it is never printed (reports in every
format, the step summary, `-v` output, error messages).

Already elsewhere: tests/test_fetch.py `test_the_token_goes_only_to_the_api_host` (a
plain-http cross-host redirect of a download), tests/test_handshake.py
`test_environment_is_scrubbed` (the probe's environment, without the CLI).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import handshake
from tests.conftest import Runner
from tests.hostile.helpers import Certificate, self_signed_certificate, serving_tls
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import RawServer, Request, respond, serving

PLUGIN = elf_with_inline_buildinfo()
RELEASES = [
    {
        "tag_name": "v1.0.0",
        "draft": False,
        "assets": [{"name": "router-linux-amd64"}, {"name": "router-darwin-arm64"}],
    }
]
FORMATS = ("text", "json", "github", "sarif")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    if shutil.which("openssl") is None:  # pragma: no cover - the project's machines have it
        pytest.skip("the openssl command makes the test certificate")
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"ghp_{secrets.token_hex(18)}"
    monkeypatch.setenv("GITHUB_TOKEN", value)
    return value


def api_handler(conn: socket.socket, request: Request) -> None:
    """GitHub's REST API for one repository, o/r (FORMATS.md section 9)."""
    if request.target.startswith("/repos/o/r/releases?"):
        respond(conn, 200, json.dumps(RELEASES).encode(), {"Content-Type": "application/json"})
    elif request.target.startswith("/repos/o/r/releases/tags/"):
        respond(conn, 404, b'{"message":"Not Found"}', {"Content-Type": "application/json"})
    elif request.target == "/repos/o/r":
        respond(conn, 200, b'{"full_name":"o/r"}', {"Content-Type": "application/json"})
    else:
        respond(conn, 404, b'{"message":"Not Found"}', {"Content-Type": "application/json"})


@pytest.fixture
def github(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RawServer, RawServer]]:
    """(API over https, download host over plain http), wired up as GitHub Enterprise is:
    GITHUB_API_URL and GITHUB_SERVER_URL."""
    with (
        serving_tls(api_handler, certificate) as api,
        serving(lambda conn, _r: respond(conn, 404, b"Not Found")) as downloads,
    ):
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
        monkeypatch.setenv("GITHUB_API_URL", api.url("").rstrip("/"))
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{downloads.port}")
        yield api, downloads


def values(location: str) -> str:
    return (
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: acme/router\n      location: {location}\n"
    )


def run_everything(runner: Runner, tmp_path: Path) -> list[str]:
    """Every output the CLI writes, in every format, with -vv."""
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    texts = []
    for output_format in FORMATS:
        env = (
            {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
            if output_format == "github"
            else {}
        )
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            code, out, err = runner.run(
                "--format", output_format, "-vv", "--allow-private-addresses", "--no-cache",
                "--timeout", "5", "--sarif-file", str(tmp_path / "report.sarif"), "values.yaml",
            )  # fmt: skip
        assert code in (0, 1), err
        texts += [out, err, (tmp_path / "report.sarif").read_text()]
    texts += [summary.read_text(), outputs.read_text()]
    return texts


def assert_never_sent(server: RawServer, token: str) -> None:
    for request in server.requests:
        assert "authorization" not in request.headers, request
        assert token not in json.dumps([request.target, request.headers]), request


def test_the_token_reaches_the_api_over_https_and_nothing_else(
    runner: Runner, tmp_path: Path, token: str, github: tuple[RawServer, RawServer]
) -> None:
    api, downloads = github
    location = downloads.url("/o/r/releases/download/1.0.0/router-linux-amd64")
    runner.write("values.yaml", values(location))
    texts = run_everything(runner, tmp_path)

    # The API was asked, with the token, and its answer made the hint.
    assert api.requests, "the API was never asked"
    for request in api.requests:
        assert request.headers.get("authorization") == f"Bearer {token}", request
        assert request.target.startswith("/repos/o/r"), request
    report = json.loads(texts[3])  # the json run's stdout
    (failure,) = [f for f in report["findings"] if f["rule"] == "download-failed"]
    assert "The tag is `v1.0.0`, not `1.0.0`" in failure["message"]
    # The download host never saw it; no output shows it.
    assert downloads.requests
    assert_never_sent(downloads, token)
    for text in texts:
        assert token not in text
        assert token[4:] not in text  # not even without its prefix


def test_the_token_never_follows_an_api_redirect(
    runner: Runner,
    tmp_path: Path,
    token: str,
    certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API host answers with redirects to another host (over http and https): the token
    must not go there, nor anything else."""
    with serving(lambda conn, _r: respond(conn, 200, b"[]")) as elsewhere:

        def redirecting(conn: socket.socket, request: Request) -> None:
            scheme = "https" if "tags" in request.target else "http"
            port = api.port if scheme == "https" else elsewhere.port
            target = f"{scheme}://localhost:{port}/steal{request.target}"
            respond(conn, 307, b"", {"Location": target})

        with (
            serving_tls(redirecting, certificate) as api,
            serving(lambda conn, _r: respond(conn, 404, b"Not Found")) as downloads,
        ):
            monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
            monkeypatch.setenv("GITHUB_API_URL", api.url("").rstrip("/"))
            monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{downloads.port}")
            runner.write("values.yaml", values(downloads.url("/o/r/releases/download/v1/x")))
            code, out, err = runner.run(
                "--format", "json", "-v", "--allow-private-addresses", "--no-cache",
                "--timeout", "5", "values.yaml",
            )  # fmt: skip
    assert code == 1, err
    assert api.requests and all(r.target.startswith("/repos/") for r in api.requests)
    assert elsewhere.requests == []
    assert_never_sent(downloads, token)
    assert token not in out + err


def test_the_token_is_not_sent_to_an_api_over_plain_http(
    runner: Runner, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(api_handler) as api, serving(lambda c, _r: respond(c, 404, b"Not Found")) as dl:
        monkeypatch.setenv("GITHUB_API_URL", api.url("").rstrip("/"))
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{dl.port}")
        runner.write("values.yaml", values(dl.url("/o/r/releases/download/1.0.0/x")))
        runner.run("--format", "json", "--allow-private-addresses", "--no-cache", "values.yaml")
    assert api.requests  # asked (public data needs no token), but without it
    assert_never_sent(api, token)


def test_no_api_request_for_a_location_that_is_not_on_github(
    runner: Runner, token: str, github: tuple[RawServer, RawServer]
) -> None:
    api, _ = github
    with serving(lambda c, _r: respond(c, 404, b"Not Found")) as other:
        location = other.url("/o/r/releases/download/1.0.0/x", host="localhost")
        runner.write("values.yaml", values(location))
        runner.run("--format", "json", "--allow-private-addresses", "--no-cache", "values.yaml")
    assert other.requests and api.requests == []
    assert_never_sent(other, token)


@pytest.mark.parametrize(
    "path",
    [
        "/../user/releases/download/v1/x",
        "/./../releases/download/v1/x",
        "/o/./releases/download/v1/x",
        "/o/r/releases/download/../x",
    ],
)
def test_dot_segments_never_aim_the_token_outside_repos(
    runner: Runner, token: str, github: tuple[RawServer, RawServer], path: str
) -> None:
    """`..` or `.` as an owner, repository or tag would move the API path (httpx normalizes
    dot segments) out of /repos/OWNER/REPO: to /user, with the token. GitHub allows no such
    names, so there is nothing to look up."""
    api, downloads = github
    runner.write("values.yaml", values(f"http://127.0.0.1:{downloads.port}{path}"))
    runner.run("--format", "json", "--allow-private-addresses", "--no-cache", "values.yaml")
    assert downloads.requests  # fetched (and failed): a lookup would have been next
    assert api.requests == []


def test_an_untrusted_api_certificate_is_not_an_error_and_leaks_nothing(
    runner: Runner, token: str, github: tuple[RawServer, RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without our CA the TLS handshake fails before any header is sent: the hint is
    dropped, the finding stays, and no message carries the token."""
    api, downloads = github
    monkeypatch.delenv("SSL_CERT_FILE")
    runner.write("values.yaml", values(downloads.url("/o/r/releases/download/1.0.0/x")))
    code, out, err = runner.run(
        "--format", "text", "-vv", "--allow-private-addresses", "--no-cache", "values.yaml"
    )
    assert code == 1 and "[download-failed]" in out
    assert api.requests == []  # TLS failed before any request was read
    assert token not in out + err


# --- --handshake ---------------------------------------------------------------------------

ENV_DUMP = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
int main(void) {
    int fd = open(REPORT, O_WRONLY | O_CREAT | O_APPEND, 0600);
    for (char **entry = environ; *entry; entry++) {
        (void)!write(fd, *entry, strlen(*entry));
        (void)!write(fd, "\n", 1);
    }
    close(fd);
    const char *dir = getenv("PLUGIN_UNIX_SOCKET_DIR");
    printf("1|1|unix|%s/plugin|netrpc|\n", dir ? dir : "/tmp");
    fflush(stdout);
    for (;;) pause();
}
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the probe runs on Linux only")
def test_the_token_is_not_in_a_handshake_probes_environment(
    runner: Runner, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:  # pragma: no cover - the project's machines have it
        pytest.skip("gcc builds the probed program")
    # The sandbox lets the child write only here besides its own temp dir (tests only).
    reports = tmp_path / "reports"
    reports.mkdir()
    monkeypatch.setattr(handshake, "SHARED_DIRECTORY", reports)
    report = reports / "environment.txt"
    source = tmp_path / "envdump.c"
    source.write_text(ENV_DUMP)
    binary = tmp_path / "envdump"
    subprocess.run(  # static, as Go plugins are: only a static binary is probed
        [gcc, "-O1", "-w", "-static", f'-DREPORT="{report}"', "-o", str(binary), str(source)],
        check=True,
        timeout=120,
    )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    plugin = binary.read_bytes()
    with serving(lambda conn, _r: respond(conn, 200, plugin)) as server:
        runner.write("values.yaml", values(server.url("/router-linux-amd64")))
        code, out, err = runner.run(
            "--handshake", "--format", "json", "-v", "--allow-private-addresses", "--no-cache",
            "values.yaml",
        )  # fmt: skip
    assert code in (0, 1), err
    environment = report.read_text()  # the probe ran it
    assert "ARGO_ROLLOUTS_RPC_PLUGIN=trafficrouter" in environment
    assert token not in environment and "GITHUB_TOKEN" not in environment
    assert "also-secret" not in environment
    assert_never_sent(server, token)
    assert token not in out + err
