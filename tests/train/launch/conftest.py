"""Launch-test fixtures: tiny runs on the shared ``tiny_mixture`` (tests/train/conftest.py), and a real
single-node SLURM cluster on localhost (Debian's slurm-wlm 22.05 and munge).

The session fixture ``slurm_cluster`` starts, in a private folder with free ports and its own munge socket (so
it never touches a system cluster or another test session's):

    munged -> mariadbd (private datadir) -> slurmdbd -> slurmctld -> slurmd

then waits until ``sinfo`` shows the node idle and points ``SLURM_CONF`` at it, so ``sbatch``/``sacct`` and
submitit (which detects SLURM by ``srun`` on PATH) use it. Accounting (slurmdbd + MariaDB) is on: without it
submitit cannot read job states and a job that dies before writing its result makes ``result()`` hang.

It skips, with the reason, only where a cluster cannot start: not root, a package missing, or the host name not
resolving. Recipe: ``/work/shared/INFRA.md``; CI installs the packages in ``.ci/run``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Daemons and clients the cluster needs, and the Debian package that ships each one.
_BINARIES = {
    "munged": "munge", "mungekey": "munge", "mariadbd": "mariadb-server", "slurmdbd": "slurmdbd",
    "slurmctld": "slurmctld", "slurmd": "slurmd", "sinfo": "slurm-client",
    "sbatch": "slurm-client", "srun": "slurm-client", "sacct": "slurm-client", "scontrol": "slurm-client",
}
_SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
# Virtual CPUs declared for the node (slurmd reports the configured values): three one-CPU array elements run
# at once on a two-core machine. Each tiny job keeps to one thread.
_NODE_CPUS = 8


def _which(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in _SBIN if os.access(f"{d}/{name}", os.X_OK)), None)


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cannot_start_reason() -> str | None:
    """Why a local cluster cannot start here, or None when it can."""
    if os.geteuid() != 0:
        return "a local SLURM cluster needs root (the daemons run as root)"
    missing = sorted({pkg for name, pkg in _BINARIES.items() if _which(name) is None})
    if missing:
        return f"Debian packages missing: {' '.join(missing)} (apt-get install -y --no-install-recommends ...)"
    host = socket.gethostname().split(".")[0]
    try:
        socket.gethostbyname(host)
    except OSError:
        return f"host name {host!r} does not resolve: add '127.0.0.1 {host}' to /etc/hosts"
    return None


@dataclasses.dataclass
class LocalSlurm:
    """A running single-node cluster; ``env`` holds what clients need (``SLURM_CONF``)."""

    root: Path
    node: str
    partition: str
    conf: Path
    start_seconds: float
    pids: dict[str, Path] = dataclasses.field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = dataclasses.field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *cmd: str, check: bool = True) -> str:
        """Run a SLURM client command against this cluster and return its stdout."""
        out = subprocess.run(cmd, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60)
        if check and out.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def logs(self) -> str:
        """The tail of each daemon's log, for failure messages."""
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"== {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> None:
        if "slurmctld" in self.pids:
            # A controller that is down cannot cancel: the daemons are stopped below either way.
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["scancel", "--full", "--quiet", f"--partition={self.partition}"],
                               env={**os.environ, **self.env}, capture_output=True, timeout=10)
        pids = []
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            pid_file = self.pids.get(name)
            try:
                pid = int(pid_file.read_text().split()[0]) if pid_file is not None else None
            except (OSError, ValueError, IndexError):
                continue
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                    pids.append(pid)
        children = {proc.pid: proc for proc in self.procs.values()}  # started (and reaped) by this process

        def alive(pid: int) -> bool:
            if pid in children:
                return children[pid].poll() is None
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            return True

        deadline = time.monotonic() + 10
        for pid in pids:  # all were told at once; wait for each, then force
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _wait(what: str, ready, cluster: LocalSlurm, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"local SLURM: {what} not ready after {timeout_s:.0f} s\n{cluster.logs()}")


def _daemon(cluster: LocalSlurm, name: str, *cmd: str) -> None:
    log = cluster.root / "log" / f"{name}.log"
    out = subprocess.run(cmd, env={**os.environ, **cluster.env}, capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise RuntimeError(f"local SLURM: {name} failed to start: {out.stderr.strip()}\n{cluster.logs()}")
    if out.stdout or out.stderr:
        with log.open("a") as fh:
            fh.write(out.stdout + out.stderr)


def start_local_slurm(root: Path) -> LocalSlurm:
    """Start munge, MariaDB, slurmdbd, slurmctld and slurmd under ``root``; return when the node is idle.

    On any failure the daemons already started are stopped before the error propagates.
    """
    t0 = time.monotonic()
    node = socket.gethostname().split(".")[0]
    cluster = LocalSlurm(root=root, node=node, partition="debug", conf=root / "slurm.conf", start_seconds=0.0)
    try:
        _start(cluster)
    except BaseException:
        cluster.stop()
        raise
    cluster.start_seconds = time.monotonic() - t0
    return cluster


def _start(cluster: LocalSlurm) -> None:
    root = cluster.root
    for sub in ("munge", "db", "log", "state", "spool", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ctld_port, slurmd_port, dbd_port, db_port = _free_ports(4)
    sock = root / "munge" / "munge.socket"
    run = root / "run"

    key = root / "munge" / "munge.key"
    subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
    key.chmod(0o400)
    cluster.pids["munged"] = run / "munged.pid"
    _daemon(cluster, "munged", _which("munged"), f"--socket={sock}", f"--key-file={key}",
            f"--pid-file={run / 'munged.pid'}", f"--log-file={root / 'log' / 'munged.log'}",
            f"--seed-file={root / 'munge' / 'seed'}", "--force")

    # MariaDB on an empty private datadir and port, grant tables skipped (a throwaway database on 127.0.0.1;
    # no mariadb-install-db, which costs ~7 s on 2 cores): slurmdbd creates its own tables.
    db = root / "db"
    cluster.pids["mariadbd"] = run / "mariadbd.pid"
    mariadbd = [
        _which("mariadbd"), "--no-defaults", f"--datadir={db}", "--user=root", f"--port={db_port}",
        "--bind-address=127.0.0.1", f"--socket={run / 'mysql.sock'}", f"--pid-file={run / 'mariadbd.pid'}",
        "--skip-grant-tables", "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
        "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--performance-schema=0",
    ]
    with (root / "log" / "mariadbd.log").open("a") as log:
        cluster.procs["mariadbd"] = subprocess.Popen(mariadbd, stdout=log, stderr=log, start_new_session=True)
    _wait("mariadbd", lambda: _port_open(db_port), cluster)

    common = ["AuthType=auth/munge", f"AuthInfo=socket={sock}", "SlurmUser=root"]
    dbd_conf = root / "slurmdbd.conf"
    dbd_conf.write_text("\n".join([
        *common, "DbdHost=localhost", f"DbdPort={dbd_port}", "StorageType=accounting_storage/mysql",
        "StorageHost=127.0.0.1", f"StoragePort={db_port}", "StorageUser=root", "StorageLoc=slurm_acct_db",
        f"PidFile={run / 'slurmdbd.pid'}", f"LogFile={root / 'log' / 'slurmdbd.log'}", "DebugLevel=info", "",
    ]))
    dbd_conf.chmod(0o600)
    cluster.pids["slurmdbd"] = run / "slurmdbd.pid"
    _daemon(cluster, "slurmdbd", _which("slurmdbd"))  # reads slurmdbd.conf next to SLURM_CONF
    _wait("slurmdbd", lambda: _port_open(dbd_port), cluster)

    cluster.conf.write_text("\n".join([
        "ClusterName=trimodal", "SlurmctldHost=localhost", f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}", *common, "SlurmdUser=root", "CredType=cred/munge",
        f"StateSaveLocation={root / 'state'}", f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={run / 'slurmctld.pid'}", f"SlurmdPidFile={run / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "SchedulerType=sched/builtin",
        "SlurmdParameters=config_overrides", "ReturnToService=2", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=localhost",
        f"AccountingStoragePort={dbd_port}",
        f"AccountingStoragePass={sock}",  # with slurmdbd: the munge socket
        "JobCompType=jobcomp/none", "KillWait=5", "InactiveLimit=0",
        "MinJobAge=300", "SlurmctldTimeout=30", "SlurmdTimeout=30", "MessageTimeout=30",
        f"NodeName={cluster.node} NodeAddr=127.0.0.1 CPUs={_NODE_CPUS} RealMemory=4000 State=UNKNOWN",
        f"PartitionName={cluster.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "",
    ]))
    cluster.pids["slurmctld"] = run / "slurmctld.pid"
    _daemon(cluster, "slurmctld", _which("slurmctld"), "-f", str(cluster.conf))
    cluster.pids["slurmd"] = run / "slurmd.pid"
    _daemon(cluster, "slurmd", _which("slurmd"), "-f", str(cluster.conf))

    def idle() -> bool:
        out = cluster.run("sinfo", "--noheader", "--format=%t", check=False).split()
        return bool(out) and all(state == "idle" for state in out)

    _wait("node", idle, cluster)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    """A real single-node SLURM cluster with accounting, for the whole test session."""
    reason = cannot_start_reason()
    if reason:
        pytest.skip(f"no local SLURM: {reason}")
    root = Path(tmp_path_factory.mktemp("slurm", numbered=True))
    cluster = None
    saved = os.environ.get("SLURM_CONF")
    try:
        cluster = start_local_slurm(root)
        os.environ["SLURM_CONF"] = str(cluster.conf)
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop()
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved


def _wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _status(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model" / "model.safetensors"))


def _metric_steps(run_dir: Path) -> list[int]:
    import json

    path = run_dir / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.is_file() else []


@pytest.fixture
def launch_helpers():
    """Polling and run-folder readers shared by the launch tests."""
    import types

    return types.SimpleNamespace(wait_for=_wait_for, status=_status, weights=_weights, metric_steps=_metric_steps)


def tiny_launch_config(mixture: Path, run_dir: Path, steps: int = 4):
    """The trainer tests' tiny run (``tiny`` preset, 8 rows x 128 tokens, a metrics line per step) for
    ``steps`` steps, checkpointing only at the end and on a preemption request."""
    from trimodal_train.configs import tiny

    base = tiny()
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, mixture=mixture, seq_len=128, global_batch_size=8, prefetch=0),
        run=dataclasses.replace(base.run, run_dir=run_dir, steps=steps, tokens=None, log_interval=1,
                                progress=False, log_level="WARNING"),
        checkpoint=dataclasses.replace(base.checkpoint, interval=0),
    )


@pytest.fixture(scope="session")
def launch_run_config(tiny_mixture):
    """``tiny_launch_config`` on the session's tiny mixture: ``make(run_dir, steps=4)``."""

    def make(run_dir: Path, steps: int = 4):
        return tiny_launch_config(tiny_mixture.path, run_dir, steps)

    return make
