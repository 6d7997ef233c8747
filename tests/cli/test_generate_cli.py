"""`aaprof generate`: profiles and bundle from logs, merging into DIR, the promotion gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from k8s.validate import validate_bundle

from aaprof.cli.main import cli
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compare import diff_policies, read_policy
from aaprof.profiles.compile import compile_policy
from aaprof.profiles.coverage import Access, decide

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample-logs"
ABI = Path("/etc/apparmor.d/abi/3.0")
STAMP = "type=AVC msg=audit(1700000000.{ms:03d}:{serial}):"
WEB = "aaprof.shop.web.nginx"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["generate", *args], catch_exceptions=False)


def record(serial: int, name: str, mask: str, profile: str = "app") -> str:
    return (
        f'{STAMP.format(ms=serial % 1000, serial=serial)} apparmor="ALLOWED" operation="open" '
        f'profile="{profile}" name="{name}" pid=9 comm="app" requested_mask="{mask}" '
        f'denied_mask="{mask}" fsuid=0 ouid=0\n'
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    result = run(str(SAMPLES), "--out", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    return out


def test_every_profile_compiles_and_allows_what_was_recorded(generated: Path) -> None:
    files = sorted((generated / "profiles").iterdir())
    assert len(files) >= 10
    for path in files:
        text = path.read_text(errors="surrogateescape")
        compile_policy(text, name=str(path), features=ABI)  # raises on a rejected profile
        assert text.startswith("# aaprof ")
    web = parse_policy((generated / "profiles" / WEB).read_text()).profiles()[0]
    assert "complain" in web.flags and "attach_disconnected" in web.flags
    for name in ("/etc/nginx/nginx.conf", "/usr/share/nginx/html/summer sale.html"):
        assert decide(web, Access(name, frozenset("r"), 101, 0)).ok, name
    assert not decide(web, Access("/etc/shadow", frozenset("r"), 101, 0)).ok


def test_the_bundle_validates(generated: Path) -> None:
    bundle = {
        str(p.relative_to(generated / "k8s")): p.read_text()
        for p in (generated / "k8s").rglob("*")
        if p.is_file()
    }
    assert "kustomization.yaml" in bundle and "loader/configmap.yaml" in bundle
    assert any("shop" in name and "web" in name for name in bundle)
    assert validate_bundle(bundle) == ()


def test_rerun_keeps_handwritten_rules_and_adds_only_new_ones(tmp_path: Path) -> None:
    first = tmp_path / "first.log"
    first.write_text(record(1, "/etc/app.conf", "r"))
    assert run(str(first), "--out", str(tmp_path / "out"), "--no-k8s").exit_code == 0
    path = tmp_path / "out" / "profiles" / "app"
    edited = path.read_text().replace("{\n", "{\n  # kept by hand\n  /srv/data/** r,\n", 1)
    path.write_text(edited)
    second = tmp_path / "second.log"
    second.write_text(record(2, "/etc/app.conf", "r") + record(3, "/var/log/app.log", "w"))
    result = run(str(second), "--out", str(tmp_path / "out"), "--no-k8s", "--format", "json")
    assert json.loads(result.stdout)["profiles"][0]["new_rules"] == 1
    text = path.read_text()
    assert "/srv/data/** r," in text and "# kept by hand" in text
    # fsuid == ouid == 0: `owner` on the file it writes, not on the config it only reads
    assert text.count("/etc/app.conf r,") == 1 and "owner /etc/app.conf" not in text
    assert "owner /var/log/app.log w," in text
    assert text.count("generated this profile from") == 1  # the header is replaced
    assert "second.log" in text and "first.log" not in text


def test_check_is_a_promotion_gate(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/etc/app.conf", "r"))
    out = str(tmp_path / "out")
    gate = run("--check", str(log), "--out", out, "--format", "json")
    assert gate.exit_code == 1
    (gap,) = json.loads(gate.stdout)["missing"]
    assert gap["profile"] == "app" and gap["missing_rules"] == ["/etc/app.conf r,"]
    assert gap["last_new_access"].startswith("2023-11-14T22:13:20")
    assert not (tmp_path / "out").exists()  # --check writes nothing
    assert run(str(log), "--out", out, "--no-k8s").exit_code == 0
    assert run("--check", str(log), "--out", out).exit_code == 0


def test_decisions_file_replays(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/srv/cache/a1b2/index", "r"))
    decisions = tmp_path / "decisions.yaml"
    decisions.write_text(
        "version: 1\n"
        "decisions:\n"
        "  - profile: app\n"
        '    rule: "/srv/cache/a1b2/index r,"\n'
        '    text: "owner /srv/cache/** r,"\n'
    )
    out = tmp_path / "out"
    result = run(str(log), "--out", str(out), "--no-k8s", "--decisions", str(decisions))
    assert result.exit_code == 0, result.output
    text = (out / "profiles" / "app").read_text()
    assert "owner /srv/cache/** r," in text and "a1b2" not in text


def test_the_decisions_beside_the_profiles_are_found_again(tmp_path: Path) -> None:
    """DIR/decisions.yaml (where `aaprof review` saves): generate and --check replay it, so a
    rule ignored in a review does not fail the gate nor come back."""
    log = tmp_path / "a.log"
    log.write_text(record(1, "/etc/app.conf", "r") + record(2, "/tmp/scratch", "w"))
    out = tmp_path / "out"
    assert run(str(log), "--out", str(out), "--no-k8s", "--name", "/etc/*").exit_code == 0
    (out / "decisions.yaml").write_text(
        "version: 1\n"
        "decisions:\n"
        "  - profile: app\n"
        '    rule: "owner /tmp/scratch w,"\n'
        "    action: skip\n"
    )
    gate = run("--check", str(log), "--out", str(out))
    assert gate.exit_code == 0, gate.output
    assert f"1 decisions replayed from {out / 'decisions.yaml'}" in gate.stderr
    assert run(str(log), "--out", str(out), "--no-k8s").exit_code == 0
    assert "scratch" not in (out / "profiles" / "app").read_text()
    # a file named on the command line is the one replayed
    other = tmp_path / "none.yaml"
    other.write_text("version: 1\ndecisions: []\n")
    assert run("--check", str(log), "--out", str(out), "--decisions", str(other)).exit_code == 1


def test_no_complain_records_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/etc/x", "r").replace("ALLOWED", "DENIED"))
    result = CliRunner().invoke(cli, ["generate", str(log), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "complain" in result.stderr


# ---- the session's front-end: selection, attribution, JSON input, siblings, warnings ----------

MOUNTER, SHELL = "a" * 64, "b" * 64  # container ids of the runtime-default records' pids
POD_UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def _proc_root(root: Path) -> Path:
    """A proc tree where pids 6310 and 6311 (sample-logs, runtime-default profile) run in two
    containers of one pod (containerd, systemd cgroup driver)."""
    for pid, cid, comm in ((6310, MOUNTER, "mount"), (6311, SHELL, "sh")):
        d = root / str(pid)
        d.mkdir(parents=True)
        slice_ = f"kubepods-besteffort-pod{POD_UID.replace('-', '_')}.slice"
        d.joinpath("cgroup").write_text(
            f"0::/kubepods.slice/kubepods-besteffort.slice/{slice_}/cri-containerd-{cid}.scope\n"
        )
        d.joinpath("stat").write_text(f"{pid} ({comm}) S " + " ".join(["0"] * 19 + ["4242"]) + "\n")
    return root


def _pods(path: Path) -> Path:
    statuses = [
        {"name": "mounter", "containerID": f"containerd://{MOUNTER}"},
        {"name": "shell", "containerID": f"containerd://{SHELL}"},
    ]
    pod = {
        "metadata": {"name": "batch", "namespace": "jobs", "uid": POD_UID},
        "status": {"containerStatuses": statuses},
    }
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod]}))
    return path


def _profiles(out: Path) -> dict[str, str]:
    """Profile files by name, without the header line that names the logs read."""
    return {p.name: p.read_text().split("\n", 1)[1] for p in sorted((out / "profiles").iterdir())}


def test_per_container_writes_one_profile_per_attributed_container(tmp_path: Path) -> None:
    common = [str(SAMPLES), "--include-denied", "--format", "json", "-q"]
    common += [
        "--proc-root",
        str(_proc_root(tmp_path / "proc")),
        "--pods",
        str(_pods(tmp_path / "p.json")),
    ]
    plain = run(*common, "--out", str(tmp_path / "plain"))
    split = run(*common, "--out", str(tmp_path / "split"), "--per-container")
    assert plain.exit_code == 0 and split.exit_code == 0, plain.output + split.output
    names = {p["profile"] for p in json.loads(split.stdout)["profiles"]}
    before = {p["profile"] for p in json.loads(plain.stdout)["profiles"]}
    assert "cri-containerd.apparmor.d" in before and "cri-containerd.apparmor.d" not in names
    assert {"aaprof.jobs.batch.mounter", "aaprof.jobs.batch.shell", WEB} <= names
    shell = (tmp_path / "split" / "profiles" / "aaprof.jobs.batch.shell").read_text()
    assert "/proc/sysrq-trigger w," in shell and "mount" not in shell.split("{", 1)[1]
    mounter = (tmp_path / "split" / "profiles" / "aaprof.jobs.batch.mounter").read_text()
    assert "mount fstype=cgroup2" in mounter
    patches = "\n".join(
        p.read_text() for p in (tmp_path / "split" / "k8s").rglob("*.yaml") if "batch" in p.name
    )
    for container in ("mounter", "shell"):  # the bundle sets each container's profile
        assert f'localhostProfile: "aaprof.jobs.batch.{container}"' in patches


def test_own_jsonl_events_on_stdin_give_the_same_profiles(tmp_path: Path) -> None:
    runner = CliRunner()
    events = runner.invoke(cli, ["events", "--format", "jsonl", "-q", str(SAMPLES)])
    assert events.exit_code == 0
    piped = runner.invoke(
        cli, ["generate", "-", "--out", str(tmp_path / "piped"), "-q"], input=events.stdout
    )
    direct = run(str(SAMPLES), "--out", str(tmp_path / "direct"), "-q")
    assert piped.exit_code == 0 and direct.exit_code == 0, piped.output
    assert _profiles(tmp_path / "piped") == _profiles(tmp_path / "direct")
    assert len(_profiles(tmp_path / "direct")) >= 10


def test_the_nginx_temp_files_become_a_glob_in_enforce_mode(tmp_path: Path) -> None:
    result = run(
        str(SAMPLES / "node-a"),
        str(SAMPLES / "node-b"),
        "--out",
        str(tmp_path),
        "--mode",
        "enforce",
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "profiles" / WEB).read_text()
    assert "/var/cache/nginx/client_temp/[0-9]* w," in text and "0000000001" not in text
    assert "complain" not in text.split("{", 1)[0].split("profile", 1)[1]
    web = parse_policy(text).profiles()[0]
    for name in ("0000000004", "0000000020"):
        assert decide(
            web, Access(f"/var/cache/nginx/client_temp/{name}", frozenset("w"), 101, 0)
        ).ok
    assert not decide(web, Access("/var/cache/nginx/client_temp/x.conf", frozenset("w"), 101, 0)).ok


def test_learning_in_two_batches_gives_the_profile_of_one_run_over_both(tmp_path: Path) -> None:
    """Rules already in the profile count as evidence: node-a's two client_temp names and
    node-b's third are a family, as in one run over both (docs/generate.md)."""
    batches, both = tmp_path / "batches", tmp_path / "both"
    for node in ("node-a", "node-b"):
        result = run(str(SAMPLES / node), "--out", str(batches), "--no-k8s")
        assert result.exit_code == 0, result.output
    result = run(str(SAMPLES / "node-a"), str(SAMPLES / "node-b"), "--out", str(both), "--no-k8s")
    assert result.exit_code == 0, result.output
    text = (batches / "profiles" / WEB).read_text()
    assert "/var/cache/nginx/client_temp/[0-9]* w," in text and "0000000001" not in text
    assert diff_policies(parse_policy(text), read_policy(both / "profiles" / WEB)) == ()
    web = parse_policy(text).profiles()[0]
    fourth = Access("/var/cache/nginx/client_temp/0000000004", frozenset("w"), 101, 0)
    assert decide(web, fourth).ok
    # and a third batch with nothing new changes nothing
    assert run(str(SAMPLES / "node-b"), "--out", str(batches), "--no-k8s").exit_code == 0
    assert (batches / "profiles" / WEB).read_text() == text


def test_generate_selects_like_events(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(
        record(1, "/etc/one", "r").replace("pid=9", "pid=11")
        + record(2, "/etc/two", "r").replace("1700000000.002", "1800000000.002")
    )
    out = tmp_path / "out"
    assert run(str(log), "--out", str(out), "--no-k8s", "--pid", "11").exit_code == 0
    text = (out / "profiles" / "app").read_text()
    assert "/etc/one" in text and "/etc/two" not in text
    assert run(str(log), "--out", str(out), "--no-k8s", "--since", "2025-01-01").exit_code == 0
    assert "/etc/two" in (out / "profiles" / "app").read_text()
    bad = CliRunner().invoke(cli, ["generate", str(log), "--out", str(out), "--since", "soon"])
    assert bad.exit_code == 2 and "not a time" in bad.stderr


def test_an_unresolved_include_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/etc/app.conf", "r"))
    (tmp_path / "out" / "profiles").mkdir(parents=True)
    (tmp_path / "out" / "profiles" / "app").write_text(
        "profile app {\n  include <abstractions/aaprof-nowhere>\n}\n"
    )
    result = CliRunner().invoke(
        cli,
        ["generate", str(log), "--out", str(tmp_path / "out"), "--base", str(tmp_path / "none")],
    )
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "abstractions/aaprof-nowhere" in result.stderr


def test_write_decisions_states_every_choice(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(record(n, f"/srv/q/{n:04d}", "w") for n in (1, 2, 3)))
    decisions = tmp_path / "d.yaml"
    result = run(
        str(log), "--out", str(tmp_path / "o"), "--no-k8s", "--write-decisions", str(decisions)
    )
    assert result.exit_code == 0, result.output
    text = decisions.read_text()
    assert text.count("choice: 1") == 3 and "owner /srv/q/0001 w," in text


def test_the_vm_loops_numbered_workload_learns_a_glob_that_holds_in_enforce_mode(
    tmp_path: Path,
) -> None:
    # what the kernel logs for `echo > client_temp/000000000N` (N = 1..3) under an empty
    # complain-mode profile (tests/vm's numbered workload); the enforce run writes 20
    log = tmp_path / "dmesg"
    log.write_text(
        "".join(
            f'[    3.{n}] audit: type=1400 audit(1795574106.{n:03d}:{n}): apparmor="ALLOWED" '
            f'operation="{op}" profile="loop-numbered" '
            f'name="/var/cache/app/client_temp/{n:010d}" pid={200 + n} comm="sh" '
            f'requested_mask="{mask}" denied_mask="{mask}" fsuid=0 ouid=0\n'
            for n in (1, 2, 3)
            for op, mask in (("mknod", "c"), ("open", "wc"))
        )
    )
    out = tmp_path / "out"
    assert run(str(log), "--out", str(out), "--mode", "enforce", "--no-k8s").exit_code == 0
    text = (out / "profiles" / "loop-numbered").read_text()
    assert "owner /var/cache/app/client_temp/[0-9]* w," in text
    compile_policy(text, name="loop-numbered", features=ABI)
    profile = parse_policy(text).profiles()[0]
    for n in range(1, 21):
        name = f"/var/cache/app/client_temp/{n:010d}"
        assert decide(profile, Access(name, frozenset("wc"), 0, 0)).ok, name
    assert not decide(
        profile, Access("/var/cache/app/client_temp/abc.conf", frozenset("w"), 0, 0)
    ).ok


def _kubelet_logs(log_root: Path) -> Path:
    """A node's /var/log as the kubelet writes it for the pod of `_proc_root`."""
    containers = log_root / "containers"
    containers.mkdir(parents=True)
    for name, cid in (("mounter", MOUNTER), ("shell", SHELL)):
        target = log_root / "pods" / f"jobs_batch_{POD_UID}" / name / "0.log"
        target.parent.mkdir(parents=True)
        target.write_text("")
        (containers / f"batch_jobs_{name}-{cid}.log").symlink_to(target)
    return log_root


def test_per_container_names_come_from_the_kubelets_log_links_too(tmp_path: Path) -> None:
    result = run(
        str(SAMPLES),
        *("--include-denied", "--format", "json", "-q", "--per-container"),
        *("--proc-root", str(_proc_root(tmp_path / "proc"))),
        *("--log-root", str(_kubelet_logs(tmp_path / "log"))),
        *("--out", str(tmp_path / "out")),
    )
    assert result.exit_code == 0, result.output
    names = {p["profile"] for p in json.loads(result.stdout)["profiles"]}
    assert {"aaprof.jobs.batch.mounter", "aaprof.jobs.batch.shell"} <= names
    assert "cri-containerd.apparmor.d" not in names
