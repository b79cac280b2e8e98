"""Replicated nodes from Python: ``sealdb.open_node(config)`` opens three
nodes of one process from their configuration files; they talk QUIC with
mutual TLS on 127.0.0.1, with certificates made by ``sealdb cert`` (the
command-line tool built next to the library, or ``$SEALDB_CLI``)."""

import os
import socket
import subprocess
import time

import pytest

import sealdb
from sealdb import _ffi


def _cli():
    path = os.environ.get("SEALDB_CLI") or os.path.join(
        os.path.dirname(_ffi._library_path()), "sealdb")
    assert os.path.exists(path), (
        "the sealdb command-line tool is needed to make certificates: build it "
        "(cargo build -p sealdb-cli) or set SEALDB_CLI")
    return path


def _run(*args):
    subprocess.run([_cli(), *args], check=True, stdout=subprocess.DEVNULL)


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_config(tmp_path, node_id, port, members, extra=""):
    path = tmp_path / ("node%d.toml" % node_id)
    path.write_text(
        'node_id = %d\ndata_dir = "node%d"\nkey_file = "node%d.key"\n'
        'listen = "127.0.0.1:%d"\ncerts_dir = "certs"\ninitial_members = [%s]\n'
        'heartbeat_ms = 50\nelection_timeout_ms = [300, 600]\nsync = "normal"\n%s'
        % (node_id, node_id, node_id, port, members, extra))
    return str(path)


@pytest.fixture
def certs(tmp_path):
    _run("cert", "create-ca", "--certs-dir", str(tmp_path / "certs"),
         "--ca-key", str(tmp_path / "ca.key"), "--cluster", "py")
    for node_id in (1, 2, 3):
        _run("cert", "create-node", "--certs-dir", str(tmp_path / "certs"),
             "--ca-key", str(tmp_path / "ca.key"), str(node_id), "127.0.0.1")
        sealdb.generate_key_file(str(tmp_path / ("node%d.key" % node_id)))
    return tmp_path


def _leader(conn):
    for row in conn.execute("SHOW CLUSTER").fetchall():
        if row[3] == "leader":
            return row[0]
    return None


def test_three_nodes_replicate(certs):
    ports = [_free_udp_port() for _ in range(3)]
    members = ", ".join('"%d@127.0.0.1:%d"' % (i + 1, p) for i, p in enumerate(ports))
    # Autocommit: each statement commits (and SET starts no transaction).
    conns = [sealdb.open_node(_write_config(certs, i + 1, p, members), autocommit=True)
             for i, p in enumerate(ports)]
    try:
        deadline = time.time() + 30
        leader = None
        while leader is None:
            assert time.time() < deadline, "no leader elected"
            leader = _leader(conns[0])
            time.sleep(0.05)
        lc = conns[leader - 1]
        lc.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        lc.execute("INSERT INTO t VALUES (1, 'from python')")
        for i, c in enumerate(conns):
            c.execute("SET read_consistency = 'linearizable'")
            assert c.execute("SELECT v FROM t").fetchall() == [("from python",)], i + 1
        # Only the leader serves 'leader' reads: a follower names it.
        follower = conns[leader % 3]
        follower.execute("SET read_consistency = 'leader'")
        with pytest.raises(sealdb.OperationalError) as e:
            follower.execute("SELECT v FROM t").fetchall()
        assert e.value.code == 420
    finally:
        for c in conns:
            c.close()


def test_bad_configurations_are_refused(certs):
    bad = certs / "bad.toml"
    bad.write_text("node_id = 1\nnode_idd = 2\n")
    with pytest.raises(sealdb.ProgrammingError) as e:
        sealdb.open_node(str(bad))
    assert "node_idd" in str(e.value) or "unknown field" in str(e.value)
    # Node 2's configuration pointing at node 1's certificate files.
    config = _write_config(certs, 2, _free_udp_port(), "",
                           'cert = "certs/node.1.crt"\n')
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.open_node(config)  # certs_dir and cert together: refused
    text = open(config).read().replace('certs_dir = "certs"\n', "").replace(
        'cert = "certs/node.1.crt"\n',
        'cert = "certs/node.1.crt"\nkey = "certs/node.1.key"\nca = "certs/ca.crt"\n')
    with open(config, "w") as f:
        f.write(text)
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.open_node(config)
    assert e.value.code == 310, e.value
    with pytest.raises(sealdb.OperationalError):
        sealdb.open_node(str(certs / "missing.toml"))
