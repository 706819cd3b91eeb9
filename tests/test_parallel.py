"""The build as Dask tasks (exactcells.parallel): identical to the one-process build.

A local cluster of two worker processes is started by the tests (127.0.0.1 only); one test starts
a separate ``dask scheduler`` and two ``dask worker`` processes and drives them through the CLI;
one kills a worker in the middle of a build.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("distributed")

from net_strategies import random_net  # noqa: E402

from exactcells import Domain, PolyhedralComplex, build_complex, network_from_dict  # noqa: E402
from exactcells.certify import certify  # noqa: E402
from exactcells.cli import main  # noqa: E402
from exactcells.errors import CellLimitExceeded  # noqa: E402
from exactcells.parallel import build_on_cluster, cluster  # noqa: E402
from exactcells.shards import ShardedComplex, write_shards  # noqa: E402

Same = Callable[[PolyhedralComplex, PolyhedralComplex], None]
ROOT = Path(__file__).resolve().parent.parent



# degenerate: repeated neurons, a dead neuron, hyperplanes through the box's corners and through
# one common point, a second layer with a neuron equal to a first-layer one
DEGENERATE = network_from_dict({"layers": [
    {"W": [[1, 0], [1, 0], [0, 0], [1, 1], [1, -1], [2, 1]], "b": [0, 0, 1, 0, 0, 0]},
    {"W": [[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, -1, 0], [1, 1, 0, 0, 0, -1]], "b": [0, 0, 0]},
    {"W": [[1, -1, 1], [0, 1, 1]], "b": [0, -1]},
]})

NETS = {
    "generic-2d": random_net(0, (2, 6, 5, 1)),
    "generic-3d": random_net(1, (3, 4, 3, 1)),
    "deep-argmax": random_net(2, (2, 3, 2, 2, 2)),
    "thin-first-layer": random_net(4, (2, 2, 8, 1)),
    "degenerate": DEGENERATE,
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    os.environ["PYTHONPATH"] = _env()["PYTHONPATH"]  # worker processes import this exactcells
    with cluster(2, announce=False) as c:
        yield c


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("with_output", [False, True])
def test_cluster_build_is_identical(client: Any, name: str, with_output: bool, assert_same_complex: Same) -> None:
    net = NETS[name]
    K = build_complex(net, with_output=with_output)
    for partitions in (1, 5):
        K2 = build_on_cluster(net, client=client, with_output=with_output, partitions=partitions)
        assert isinstance(K2, PolyhedralComplex)
        # the exact coordinates are still lazy, and survive pickling (rebuilt from the units' records)
        assert_same_complex(K, pickle.loads(pickle.dumps(K2)))
        assert_same_complex(K, K2)
        assert K2.summary() == K.summary()


def _worker_settings() -> tuple[str | None, bool]:
    import dask

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), bool(dask.config.get("distributed.worker.profile.enabled"))


def test_local_workers_keep_glibc_adaptive_malloc_and_no_profiler(client: Any) -> None:
    """Dask's nannies set MALLOC_TRIM_THRESHOLD_ (which made the build 2-3x slower) and sample
    every task's stack; the local cluster turns both off."""
    assert set(client.run(_worker_settings).values()) == {(None, False)}


def test_an_inherited_malloc_variable_does_not_reach_the_workers(client: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster started without exactcells' settings leaves Dask's MALLOC_TRIM_THRESHOLD_ in this
    process's environment (the nanny writes it there); the next local cluster's workers still run
    without it, and the variable is put back afterwards."""
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with cluster(1, announce=False) as c:
        assert set(c.run(_worker_settings).values()) == {(None, False)}
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"


@pytest.mark.parametrize("name", ["generic-2d", "thin-first-layer", "degenerate"])
@pytest.mark.parametrize("groups", [1, 3, 8])
def test_unit_groups_own_every_cell_once(name: str, groups: int) -> None:
    """Every cell of the complex is owned by exactly one unit: the owned cells of the refined
    units, put together, are the complex's cells (each once), whatever the number of groups."""
    from exactcells.build import _refine, output_refinement
    from exactcells.parallel import _canonical_columns, _member, _planning_columns, _unit_lattice, plan_groups

    net = NETS[name]
    dom = Domain.box(2)
    ro = output_refinement(net, True, None)
    K = build_complex(net, dom, with_output=True)
    plan = plan_groups(net, dom, ro, groups)
    assert 1 <= len(plan) <= groups and (len(plan) > 1) == (groups > 1)
    assert sorted(t for g in plan for t in g.tops.tolist()) == list(range(sum(g.tops.size for g in plan)))
    owned: list[tuple[int, ...]] = []
    for g in plan:
        L = _refine(_unit_lattice(g, net, dom, ro), net, ro, g.start).compact()
        N = L.num_cells()
        cols = _planning_columns(net, ro, g.start, L.ncut, dom.num_facets)
        own = _member(np.ascontiguousarray(L.sig[:N][:, cols]).view(np.uint8), g.owned)
        signs = L.sig[:N][:, _canonical_columns(net, L.ncut, dom.num_facets)] - 1
        owned += [tuple(r) for r in signs[own].tolist()]
    assert len(owned) == K.num_cells
    assert sorted(owned) == sorted(tuple(r) for r in K.signs.tolist())


def test_sharded_output_is_byte_identical(client: Any, tmp_path: Path) -> None:
    net = NETS["generic-2d"]
    K = build_complex(net, with_output=True)
    write_shards(K, tmp_path / "one", partitions=4)
    S = build_on_cluster(net, client=client, with_output=True, partitions=4, out=tmp_path / "dask")
    assert isinstance(S, ShardedComplex)
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "dask").iterdir())
    assert "index.json" in files and len(files) == 5
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "dask" / f).read_bytes(), f


@pytest.mark.parametrize("name", ["generic-3d", "degenerate"])
def test_max_cells_stops_a_distributed_build_exactly_when_one_process_does(client: Any, name: str) -> None:
    net = NETS[name]
    N = build_complex(net, with_output=True).num_cells
    for limit in (0, N // 3, N - 1):
        with pytest.raises(CellLimitExceeded):
            build_complex(net, with_output=True, max_cells=limit)
        with pytest.raises(CellLimitExceeded):
            build_on_cluster(net, client=client, with_output=True, max_cells=limit)
    assert build_on_cluster(net, client=client, with_output=True, max_cells=N).num_cells == N


def test_a_killed_worker_is_recovered(client: Any, assert_same_complex: Same) -> None:
    net = random_net(11, (2, 14, 12, 1))
    K = build_complex(net)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["K"] = build_on_cluster(net, client=client, tasks_per_worker=8)
        except BaseException as e:  # pragma: no cover - reported below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    killed = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and t.is_alive():
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            killed = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(killed, signal.SIGKILL)
            break
        time.sleep(0.01)
    t.join(300)
    assert killed is not None, "no worker was busy: the build finished before the kill"
    assert "error" not in result, result.get("error")
    assert_same_complex(K, result["K"])
    cert = certify(result["K"], jobs=1)
    assert cert.certified, cert.summary()
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_cli_jobs_gives_the_same_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["PYTHONPATH"] = _env()["PYTHONPATH"]
    net_file = tmp_path / "net.json"
    net_file.write_text(json.dumps(NETS["degenerate"].to_dict()))
    assert main(["cells", str(net_file), "--with-output", "--out", str(tmp_path / "a"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(["cells", str(net_file), "--with-output", "--out", str(tmp_path / "b"), "--jobs", "2",
                 "--json", "--no-progress"]) == 0
    cap = capsys.readouterr()
    two = json.loads(cap.out)
    assert "dashboard" in cap.err
    for k in ("f_vector", "num_cells", "partitions"):
        assert one[k] == two[k]
    for f in sorted(p.name for p in (tmp_path / "a").iterdir()):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_cli_bad_scheduler_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net_file = tmp_path / "net.json"
    net_file.write_text(json.dumps(NETS["generic-2d"].to_dict()))
    with pytest.raises(SystemExit) as exc:  # an option's range is checked by the parser
        main(["cells", str(net_file), "--jobs", "0"])
    assert exc.value.code == 2
    assert main(["cells", str(net_file), "--partitions", "3"]) == 2
    err = capsys.readouterr().err
    assert "argument --jobs: must be at least 1" in err and "--partitions needs --out" in err


def _scheduler_address(path: Path, seconds: float = 60) -> str:
    """The address in the scheduler file, once it is written completely (the file appears
    before its contents: Dask does not write it atomically)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return str(json.loads(path.read_text())["address"])
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not appear with an address") from None
            time.sleep(0.1)


def test_separately_started_scheduler_and_workers(tmp_path: Path) -> None:
    """``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1, driven by the CLI."""
    env = _env()
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(sched_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        address = _scheduler_address(sched_file)
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        net = NETS["generic-3d"]
        net_file = tmp_path / "net.json"
        net_file.write_text(json.dumps(net.to_dict()))
        K = build_complex(net, with_output=True)
        write_shards(K, tmp_path / "one", partitions=3)
        cmd = [sys.executable, "-m", "exactcells", "cells", str(net_file), "--with-output", "--no-progress"]
        r = subprocess.run(cmd + ["--scheduler", address, "--out", str(tmp_path / "dask"), "--partitions", "3",
                                  "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["f_vector"] == list(K.f_vector)
        for f in sorted(p.name for p in (tmp_path / "one").iterdir()):
            assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "dask" / f).read_bytes()
        # the sharded complex certified on the same cluster, not gathered
        r = subprocess.run([sys.executable, "-m", "exactcells", "certify", str(tmp_path / "dask"), "--scheduler",
                            address, "--json", "--quiet", "--volumes"], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        cert = json.loads(r.stdout)
        assert cert["certified"] and cert["f_vector"] == list(K.f_vector) and cert["total_volume"] == "8"
        # --max-cells stops the distributed build: exit code 2, one line, no index written
        r = subprocess.run(cmd + ["--scheduler", address, "--max-cells", str(K.num_cells // 2),
                                  "--out", str(tmp_path / "stopped")],
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2
        assert "max_cells" in r.stderr.strip().splitlines()[-1]
        assert not (tmp_path / "stopped" / "index.json").exists()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.parametrize("name", ["degenerate", "generic-3d"])
def test_certify_on_cluster_equals_certify_shards(name: str, client: Any, tmp_path: Path) -> None:
    from exactcells.parallel import certify_on_cluster
    from exactcells.shards import certify_shards

    net = NETS[name]
    S = build_on_cluster(net, client=client, with_output=True, partitions=3, out=tmp_path / "K")
    assert isinstance(S, ShardedComplex)
    a = certify_on_cluster(tmp_path / "K", client, volumes=True)
    assert a["certified"], a["failures"]
    b = certify_shards(tmp_path / "K", volumes=True)
    assert set(a["check_seconds"]) == set(b["check_seconds"])  # the times differ, nothing else
    assert {k: v for k, v in a.items() if k != "check_seconds"} == {k: v for k, v in b.items() if k != "check_seconds"}
    # the volumes reduced as a tree of tasks: the one-process certificate's exact total
    from fractions import Fraction

    from exactcells.certify import certify

    one = certify(S.to_complex(), volumes=True)
    assert one.total_volume is not None and one.total_volume == one.domain_volume
    assert Fraction(a["total_volume"]) == one.total_volume and a["regions_measured"] == S.num_regions
    assert "total_volume" not in certify_on_cluster(tmp_path / "K", client)  # the default: structural


def test_certificate_volumes_on_dask_only_when_asked_or_large(monkeypatch: pytest.MonkeyPatch) -> None:
    """The certificate's volume groups run as Dask tasks with ``jobs > 1``; the default keeps a
    complex whose volumes are expected to take under 10 s in this process, starting nothing."""
    import exactcells.parallel as parallel_module

    K = build_complex(NETS["generic-3d"])
    started: list[int] = []
    real = parallel_module.cluster

    def counting(jobs: int = 2, *a: Any, **k: Any) -> Any:
        started.append(jobs)
        return real(jobs, *a, **k)

    monkeypatch.setattr(parallel_module, "cluster", counting)
    one = certify(K, volumes=True)
    assert started == [] and "processes" not in one.check("volumes").detail
    three = certify(K, jobs=3, volumes=True)
    assert started == [2] and "3 processes: this one and 2 Dask worker task(s)" in three.check("volumes").detail
    assert three.total_volume == one.total_volume == 8 and three.certified
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    rule = sys.modules["exactcells.certify"]._volume_processes  # the module (the package exports the function)
    # F (8,572 regions in 4-D, 5.6 s of volumes) stays in one process; 4-D from 15,385 regions,
    # 3-D from 66,667, 2-D from 100,000 use a worker; jobs given is obeyed (at most one per region)
    assert [rule(None, 8572, 4), rule(None, 15_384, 4), rule(None, 15_385, 4)] == [1, 1, 2]
    assert [rule(None, 66_666, 3), rule(None, 66_667, 3), rule(None, 99_999, 2), rule(None, 100_000, 2)] == [1, 2, 1, 2]
    assert [rule(3, 10, 2), rule(3, 2, 2), rule(1, 10**6, 4)] == [3, 2, 1]
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert rule(None, 10**6, 4) == 1


# -- the automatic choice by size (--jobs auto, the default) --------------------------------

def _lines_net(seed: int, N: int) -> Any:
    """One hidden layer of N lines in general position (no two parallel, no three through one
    point), and the box that holds every crossing strictly inside."""
    from fractions import Fraction
    from itertools import combinations

    rng = np.random.default_rng(seed)
    W = rng.integers(-9, 10, (N, 2))
    b = rng.integers(-9, 10, N)
    points = []
    for i, j in combinations(range(N), 2):
        det = int(W[i, 0] * W[j, 1] - W[i, 1] * W[j, 0])
        assert det != 0, "two parallel lines: choose another seed"
        points.append((Fraction(int(-b[i] * W[j, 1] + b[j] * W[i, 1]), det),
                       Fraction(int(-W[i, 0] * b[j] + W[j, 0] * b[i]), det)))
    assert len(set(points)) == len(points), "three lines through one point: choose another seed"
    R = int(max(max(abs(x), abs(y)) for x, y in points)) + 1
    net = network_from_dict({"layers": [{"W": W.tolist(), "b": b.tolist()},
                                        {"W": [[1] * N], "b": [0]}]})
    return net, Domain.box(2, -R, R)


@pytest.mark.parametrize("seed, N", [(0, 4), (1, 6), (3, 9)])
def test_estimate_is_exact_for_lines_in_general_position(seed: int, N: int) -> None:
    from exactcells.parallel import estimate_cells

    net, dom = _lines_net(seed, N)
    # Buck: sum_j C(N, j) 2^j = 2 N^2 + 1 faces of N lines in general position in the plane
    assert estimate_cells(net, 2) == 2 * N * N + 1
    # in a box holding every crossing: each line ends at 2 new vertices, the boundary is a cycle
    # of 2N + 4 edges through them and the 4 corners
    K = build_complex(net, dom)
    assert K.num_cells == estimate_cells(net, 2) + (2 * N + 4) + (2 * N + 4)


def test_auto_jobs_rule() -> None:
    from exactcells.parallel import AUTO_DASK_BYTES, auto_jobs, estimate_memory

    G = 2**30
    assert AUTO_DASK_BYTES == 6 * G
    assert auto_jobs(10**5, G, cores=2, memory=32 * G) == 1  # small: one process, no Dask
    assert auto_jobs(10**7, 6 * G - 1, cores=2, memory=32 * G) == 1
    assert auto_jobs(10**7, 6 * G, cores=2, memory=32 * G) == 2
    assert auto_jobs(10**7, 20 * G, cores=64, memory=None) == 8  # at most 8 local workers
    assert auto_jobs(10**7, 20 * G, cores=1, memory=32 * G) == 1  # one core: no cluster
    assert auto_jobs(10**7, 5 * G, cores=4, memory=8 * G) == 4  # half of a small machine's memory
    assert auto_jobs(10**7, 20 * G, cores=2, memory=32 * G, max_cells=10**5) == 1  # stops early anyway
    assert auto_jobs(10**7, 20 * G, cores=2, memory=32 * G, max_cells=5 * 10**6) == 2
    net = random_net(0, (3, 84, 84, 1))
    assert estimate_memory(1000, net, 3) == 1000 * 20 * (168 + 6)
    assert estimate_memory(1000, net, 3, with_output=True) == 1000 * 20 * (168 + 6 + 1)


def test_estimate_on_benchmark_networks() -> None:
    """Within the documented range of the true counts (the networks of benchmarks/networks)."""
    from exactcells import load_network
    from exactcells.parallel import auto_jobs, estimate_cells, estimate_memory

    for name, low, high in (("A_2-16-16-1", 1.0, 1.3), ("C_3-16-16-1", 1.0, 1.3), ("D_4-8-8-1", 0.9, 1.1)):
        net = load_network(ROOT / "benchmarks" / "networks" / f"{name}.json")
        K = build_complex(net)
        est = estimate_cells(net, net.input_dim)
        assert low * K.num_cells <= est <= high * K.num_cells, (name, est, K.num_cells)
        assert auto_jobs(est, estimate_memory(est, net, net.input_dim), cores=2, memory=32 * 2**30) == 1
    big = random_net(1, (3, 84, 84, 1))  # about 6 million cells: a cluster
    est = estimate_cells(big, 3)
    assert 6_000_000 < est < 6_500_000
    assert auto_jobs(est, estimate_memory(est, big, 3), cores=2, memory=32 * 2**30) == 2


def test_cli_jobs_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import exactcells.parallel as parallel

    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    net_file = tmp_path / "net.json"
    net_file.write_text(json.dumps(NETS["generic-2d"].to_dict()))
    assert main(["cells", str(net_file), "--json", "--no-progress"]) == 0  # default: auto
    cap = capsys.readouterr()
    small = json.loads(cap.out)
    assert "dask" not in cap.err.lower()
    assert main(["cells", str(net_file), "--json", "--no-progress", "--jobs", "auto"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["f_vector"] == small["f_vector"] and "dask" not in cap.err.lower()
    # the same network with the threshold lowered: a local cluster, the same complex
    monkeypatch.setattr(parallel, "AUTO_DASK_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert main(["cells", str(net_file), "--json", "--no-progress"]) == 0
    cap = capsys.readouterr()
    assert "building on a local Dask cluster of 2 workers" in cap.err and "dask scheduler" in cap.err
    assert json.loads(cap.out)["f_vector"] == small["f_vector"]
    # an explicit --jobs 1 is always one process
    assert main(["cells", str(net_file), "--json", "--no-progress", "--jobs", "1"]) == 0
    assert "dask" not in capsys.readouterr().err.lower()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 30), st.integers(0, 2**32 - 1))
def test_packed_keys_sort_in_canonical_order(width: int, rows: int, seed: int) -> None:
    """The byte order of ``(dim, packed sign codes)`` rows is the canonical order (dimension,
    then sign vector with -1 < 0 < 1), equal rows are equal cells, and unpacking inverts packing."""
    from exactcells.parallel import _keys, _unpack, _void

    rng = np.random.default_rng(seed)
    signs = rng.integers(-1, 2, (rows, width)).astype(np.int8)
    signs[rows // 2 :] = signs[: rows - rows // 2]  # repeated rows
    dims = rng.integers(0, 4, rows).astype(np.int8)
    keys = _keys(dims, (signs + 1).astype(np.int8))
    assert np.array_equal(_unpack(keys[:, 1:], width), signs)
    by_bytes = np.argsort(_void(keys), kind="stable")
    by_tuples = sorted(range(rows), key=lambda i: (int(dims[i]), tuple(signs[i].tolist())))
    assert [(int(dims[i]), tuple(signs[i].tolist())) for i in by_bytes] == \
        [(int(dims[i]), tuple(signs[i].tolist())) for i in by_tuples]
    same = (keys[:, None, :] == keys[None, :, :]).all(axis=2)
    assert np.array_equal(same, (dims[:, None] == dims[None, :]) & (signs[:, None, :] == signs[None, :, :]).all(axis=2))


def _shared_dirs() -> set[str]:
    from exactcells import parallel

    base = Path(parallel.SHARED_DIR)  # this process's (other processes may build meanwhile)
    return {p.name for p in base.glob(f"exactcells-{os.getpid()}-*")} if base.is_dir() else set()


MORE_NETS = {
    "1-d": random_net(5, (1, 5, 4, 1)),
    "4-d": random_net(6, (4, 3, 3, 1)),
    # a first-layer neuron through a vertex of the others' arrangement, one coincident, one dead
    "through-vertex": network_from_dict({"layers": [
        {"W": [[1, 0], [0, 1], [1, 1], [1, 1], [0, 0]], "b": [0, 0, 0, 0, -1]},
        {"W": [[1, -1, 1, 0, 1], [0, 1, 1, -1, 0]], "b": [0, "1/2"]}, {"W": [[1, -1]], "b": [0]}]}),
}


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("name", ["degenerate", "deep-argmax", "thin-first-layer", *MORE_NETS])
def test_gathered_complex_through_shared_memory_or_the_client(client: Any, name: str, shared: bool,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              assert_same_complex: Same) -> None:
    """The gathered build on local workers writes the complex's arrays into shared memory that
    the client maps (and removes); switched off, the client gathers them: the same complex both
    ways (1-D to 4-D, argmax, degenerate first layers), and nothing is left in the shared
    directory."""
    from exactcells import parallel

    monkeypatch.setattr(parallel, "SHARED_MEMORY", shared)
    calls: list[int] = []
    real = parallel._assemble_shared
    monkeypatch.setattr(parallel, "_assemble_shared", lambda *a, **k: calls.append(1) or real(*a, **k))
    before = _shared_dirs()
    net = NETS.get(name) or MORE_NETS[name]
    K = build_complex(net, with_output=True)
    for tasks in (1, 3):
        K2 = build_on_cluster(net, client=client, with_output=True, tasks_per_worker=tasks)
        assert isinstance(K2, PolyhedralComplex)
        assert_same_complex(K, K2)
        assert_same_complex(K, pickle.loads(pickle.dumps(K2)))
    assert len(calls) == (2 if shared and Path(parallel.SHARED_DIR).is_dir() else 0)
    assert _shared_dirs() == before
    with pytest.raises(CellLimitExceeded):
        build_on_cluster(net, client=client, with_output=True, max_cells=K.num_cells - 1)
    assert _shared_dirs() == before


def test_shared_memory_that_a_worker_cannot_see_is_not_used(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path, assert_same_complex: Same) -> None:
    """A directory the workers do not see (here: the token the client wrote reads differently on
    the workers) means gathering through the client."""
    from exactcells import parallel

    monkeypatch.setattr(parallel, "SHARED_DIR", str(tmp_path))
    monkeypatch.setattr(parallel, "_sees", lambda path, token: False)
    used: list[int] = []
    monkeypatch.setattr(parallel, "_assemble_shared", lambda *a, **k: used.append(1))
    net = NETS["generic-2d"]
    assert_same_complex(build_complex(net), build_on_cluster(net, client=client))
    assert not used and not list(tmp_path.iterdir())


def test_shipped_network_is_the_same_network() -> None:
    """The network's weights travel as integer arrays (lists past 64 bits) and come back as the
    same Fractions, layers, units and rounding note; a second receipt is the cached object."""
    from fractions import Fraction

    from exactcells.network import round_network
    from exactcells.parallel import _RECEIVED, _receive_network, _ship_network

    big = network_from_dict({"layers": [{"W": [["1/3", str(2**70)], [f"-5/{3**50}", 0]], "b": ["7/2", "-1"]},
                                        {"W": [[1, "-2/7"]], "b": [0]}]})
    rounded = round_network(random_net(3, (3, 5, 4, 2)), 6)
    for net in (big, rounded, DEGENERATE, NETS["deep-argmax"]):
        _RECEIVED.clear()
        shipped = pickle.loads(pickle.dumps(_ship_network(net)))
        back = _receive_network(shipped)
        assert back == net and back is not net and back.rounding == net.rounding
        assert all(type(v) is Fraction and v.denominator > 0 and math.gcd(v.numerator, v.denominator) == 1
                   for L in back.layers for row in L.W for v in row)
        assert back.layers[0].W[0][0] + 1 == net.layers[0].W[0][0] + 1
        assert hash(back.layers[0].b[0]) == hash(net.layers[0].b[0])
        assert _receive_network(shipped) is back
        assert build_complex(back, with_output=True).f_vector == build_complex(net, with_output=True).f_vector
    # what the client's network already derived travels along (the integer network: 0.6 s on S2_256)
    _RECEIVED.clear()
    big.integer_network()
    back = _receive_network(_ship_network(big))
    assert "integer_network" in back._memo and back.integer_network() == big.integer_network()


@pytest.mark.parametrize("name", ["degenerate", "generic-2d", "thin-first-layer"])
@pytest.mark.parametrize("groups", [2, 5])
def test_unit_ownership_matches_the_planning_rows(name: str, groups: int) -> None:
    """A refined unit's owned cells (packed comparison, or every cell when the unit owns its
    whole closure) are those whose planning-column codes are rows of its ``owned`` table."""
    from exactcells.build import output_refinement
    from exactcells.parallel import _member, _planning_columns, _refined_unit, plan_groups

    net = NETS[name]
    dom = Domain.box(2)
    ro = output_refinement(net, True, None)
    for g in plan_groups(net, dom, ro, groups):
        L, own = _refined_unit(g, net, dom, ro, None)
        N = L.num_cells()
        cols = _planning_columns(net, ro, g.start, L.ncut, dom.num_facets)
        ref = _member(np.ascontiguousarray(L.sig[:N][:, cols]).view(np.uint8), g.owned)
        assert np.array_equal(own, ref)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_key_order_is_the_byte_order(width: int, rows: int, seed: int) -> None:
    """The range tasks' sort (compiled, on 64-bit words) is numpy's stable sort of the byte rows."""
    from exactcells.parallel import _key_order, _void

    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 3, (rows, width)).astype(np.uint8)
    keys[rows // 2 :] = keys[: rows - rows // 2]  # ties keep their order
    assert np.array_equal(_key_order(keys), np.argsort(_void(keys), kind="stable"))


def test_two_units_run_on_two_workers(client: Any) -> None:
    """One queued unit per one-thread worker: the two units of a 2-worker build run on different
    workers (Dask's default saturation once gave both to one), and so do the two range tasks."""
    from distributed import get_task_stream

    client.wait_for_workers(2, timeout=60)
    with get_task_stream(client) as ts:
        build_on_cluster(random_net(12, (2, 12, 10, 1)), client=client)
    where: dict[str, set[str]] = {}
    for t in ts.data:
        kind = str(t["key"]).split("-")[1]
        where.setdefault(kind, set()).add(t["worker"])
    assert len(where["unit"]) == 2 and len(where["range"]) == 2, where


def test_shared_memory_without_room_after_all_falls_back_to_gathering(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                                      assert_same_complex: Same) -> None:
    """A worker that cannot reserve its part of the shared files (here: every reservation fails
    with ENOSPC, as on a tmpfs filled since the client looked) makes the client gather the complex
    instead: the same complex, and nothing left in the shared directory."""
    from exactcells import parallel

    if not Path(parallel.SHARED_DIR).is_dir():
        pytest.skip("no shared-memory directory here")

    def no_room(on: bool) -> None:
        import errno
        import os as wos

        if on:
            saved = wos.posix_fallocate

            def fail(fd: int, offset: int, length: int) -> None:
                raise OSError(errno.ENOSPC, "No space left on device")

            wos.__dict__["_ec_saved_fallocate"] = saved
            wos.posix_fallocate = fail
        elif "_ec_saved_fallocate" in wos.__dict__:
            wos.posix_fallocate = wos.__dict__.pop("_ec_saved_fallocate")

    used: list[int] = []
    real = parallel._assemble_shared
    monkeypatch.setattr(parallel, "_assemble_shared", lambda *a, **k: used.append(1) or real(*a, **k))
    before = _shared_dirs()
    net = NETS["degenerate"]
    K = build_complex(net, with_output=True)
    client.run(no_room, True)
    try:
        K2 = build_on_cluster(net, client=client, with_output=True)
    finally:
        client.run(no_room, False)
    assert isinstance(K2, PolyhedralComplex)
    assert_same_complex(K, K2)
    assert not used and _shared_dirs() == before
    assert_same_complex(K, build_on_cluster(net, client=client, with_output=True))  # the room is back
    assert used == [1]
